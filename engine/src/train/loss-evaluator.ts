import * as ort from 'onnxruntime-node';
import { Graph } from '../graph/graph.js';
import { grad } from '../autodiff/grad.js';
import { Session } from '../session/session.js';
import type { SessionOptions } from '../session/options.js';
import { POLICY_LOSS_FEEDS, declarePolicyLossInputs, emitPolicyLoss, type PolicyLoss } from './policy-loss.js';

/** A [B, T] batch for {@link PolicyLossEvaluator}: flat row-major arrays of B·T values. */
export interface LossEvalBatch {
  batchSize: number;
  seqLength: number;
  logprobs: Float32Array;
  oldLogprobs: Float32Array;
  advantages: Float32Array;
  mask: Float32Array;
  refLogprobs?: Float32Array;
  rolloutLogprobs?: Float32Array;
  entropy?: Float32Array;
}

/** The loss, its metrics and its gradient with respect to the log-probs and entropies. */
export interface LossEvalResult {
  loss: number;
  metrics: Record<string, number>;
  dLogprobs: Float32Array;
  dEntropy: Float32Array;
}

/**
 * A policy loss compiled on its own, with `logprobs` and `entropy` as graph inputs: the same
 * `build` the training graph runs, for checking a loss's value and gradient (∂loss/∂logprobs)
 * against a closed form or finite differences without a model.
 */
export class PolicyLossEvaluator {
  private constructor(
    private readonly session: Session,
    readonly metricNames: readonly string[],
  ) {}

  static async create(loss: PolicyLoss, opts: SessionOptions = {}): Promise<PolicyLossEvaluator> {
    const g = new Graph(`policy_loss_${loss.name.replace(/[^\w]/g, '_')}`);
    const logprobs = g.input('logprobs', 'float32', ['batch', 'seq']);
    const entropy = g.input('entropy', 'float32', ['batch', 'seq']);
    const x = declarePolicyLossInputs(g, logprobs, entropy);
    const l = emitPolicyLoss(g, loss, x);
    const metricNames = g.outputs.map((o) => o.name).filter((n) => n !== 'loss');
    const [dl, de] = grad(l, [logprobs, entropy]);
    g.output('d_logprobs', dl);
    g.output('d_entropy', de);
    return new PolicyLossEvaluator(await Session.create(g, { threads: 1, ...opts }), metricNames);
  }

  async run(b: LossEvalBatch): Promise<LossEvalResult> {
    const n = b.batchSize * b.seqLength;
    const dims = [b.batchSize, b.seqLength];
    const t = (name: string, a: Float32Array | undefined, fallback: Float32Array): ort.Tensor => {
      const v = a ?? fallback;
      if (v.length !== n) throw new Error(`PolicyLossEvaluator: ${name} has ${v.length} values, expected batchSize × seqLength = ${n}`);
      return new ort.Tensor('float32', v, dims);
    };
    const out = await this.session.run({
      logprobs: t('logprobs', b.logprobs, b.logprobs),
      entropy: t('entropy', b.entropy, new Float32Array(n)),
      [POLICY_LOSS_FEEDS.mask]: t('mask', b.mask, b.mask),
      [POLICY_LOSS_FEEDS.advantages]: t('advantages', b.advantages, b.advantages),
      [POLICY_LOSS_FEEDS.oldLogprobs]: t('oldLogprobs', b.oldLogprobs, b.oldLogprobs),
      [POLICY_LOSS_FEEDS.refLogprobs]: t('refLogprobs', b.refLogprobs, b.oldLogprobs),
      [POLICY_LOSS_FEEDS.rolloutLogprobs]: t('rolloutLogprobs', b.rolloutLogprobs, b.oldLogprobs),
    });
    const scalar = (name: string) => (out[name].data as Float32Array)[0];
    return {
      loss: scalar('loss'),
      metrics: Object.fromEntries(this.metricNames.map((m) => [m, scalar(m)])),
      dLogprobs: Float32Array.from(out.d_logprobs.data as Float32Array),
      dEntropy: Float32Array.from(out.d_entropy.data as Float32Array),
    };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
