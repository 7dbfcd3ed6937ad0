import type { ActorHandle } from '@cohort/runtime';
import type { SearchEngine, SearchRequest, SearchResult } from '@cohort/zerosearch';
import type { SimulatorActor } from './simulator-actor.js';

/**
 * Load balancing over SimulatorActors, as a zerosearch `SearchEngine`: each
 * `search` call goes to the actor with the fewest requests in flight from
 * this caller (ties broken round-robin), so concurrent rollouts spread over
 * every simulator GPU while each actor still batches what it receives.
 */
export class SimulatorPool implements SearchEngine {
  readonly name = 'simulator-pool';
  private readonly inFlight: number[];
  private next = 0;
  /** Requests sent to each actor. */
  readonly sent: number[];

  constructor(private readonly actors: readonly ActorHandle<SimulatorActor>[]) {
    if (actors.length === 0) throw new Error('SimulatorPool needs at least one SimulatorActor handle');
    this.inFlight = actors.map(() => 0);
    this.sent = actors.map(() => 0);
  }

  /** Index of the actor the next call goes to. */
  pick(): number {
    let best = -1;
    for (let k = 0; k < this.actors.length; k++) {
      const i = (this.next + k) % this.actors.length;
      if (best < 0 || this.inFlight[i] < this.inFlight[best]) best = i;
    }
    this.next = (best + 1) % this.actors.length;
    return best;
  }

  async search(requests: readonly SearchRequest[]): Promise<SearchResult[]> {
    if (requests.length === 0) return [];
    const i = this.pick();
    this.inFlight[i] += requests.length;
    this.sent[i] += requests.length;
    try {
      return await this.actors[i].search([...requests]);
    } finally {
      this.inFlight[i] -= requests.length;
    }
  }
}
