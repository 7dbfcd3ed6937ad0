import type { Logger } from 'pino';
import type { TrainConfig } from '../../config/schema.js';
import type { LogprobGap } from '../../staleness/staleness.js';

/** Thrown when the rollouts' log-probs stayed too far from the learners' for `haltAfter` steps in a row. */
export class StalenessGuardError extends Error {
  override readonly name = 'StalenessGuardError';
}

/**
 * Stage "guard": the silent failure it catches is a weight sync that did not
 * happen (the rollouts keep generating with old weights while recording the
 * new version). Each step, the mean gap between the rollouts' recorded
 * log-probs and the learners' (before the update) is compared with
 * `stalenessGuard.maxLogprobGap`: a step above it logs a warning, and
 * `haltAfter` such steps in a row stop the run. Steps with no token of the
 * current version (async mode, one step behind) are not judged and do not
 * break a streak.
 */
export class StalenessGuard {
  private streak = 0;

  constructor(
    private readonly config: TrainConfig['stalenessGuard'],
    private readonly log: Logger,
  ) {}

  /** Judges one step's gap; throws a StalenessGuardError once the streak reaches `haltAfter`. */
  check(step: number, g: LogprobGap): void {
    const max = this.config.maxLogprobGap;
    if (max === null || g.tokens === 0) return;
    if (g.gap <= max) {
      this.streak = 0;
      return;
    }
    this.streak++;
    const what = `the rollouts' log-probs of their sampled tokens differ from the learners' by ${g.gap.toPrecision(3)} on average (k3 KL ${g.kl.toPrecision(3)}, ${g.tokens} tokens), above stalenessGuard.maxLogprobGap ${max}`;
    this.log.warn({ step, logprob_gap: g.gap, kl_k3: g.kl, tokens: g.tokens, streak: this.streak, haltAfter: this.config.haltAfter }, `staleness guard: ${what}`);
    if (this.streak >= this.config.haltAfter) {
      throw new StalenessGuardError(
        `staleness guard: at step ${step}, ${what}, for ${this.streak} consecutive steps: the rollouts are generating with weights other than the version they report ` +
          '(a weight publish that did not take effect?). Check the weight sync (learner 0 → rollouts), the rollout temperature, or raise stalenessGuard.maxLogprobGap (null only reports the gap).',
      );
    }
  }
}
