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
  /** Actors that died for good. */
  private readonly dead = new Set<number>();

  constructor(private readonly actors: readonly ActorHandle<SimulatorActor>[]) {
    if (actors.length === 0) throw new Error('SimulatorPool needs at least one SimulatorActor handle');
    this.inFlight = actors.map(() => 0);
    this.sent = actors.map(() => 0);
  }

  /** Index of the live actor the next call goes to (-1: none left). */
  pick(): number {
    let best = -1;
    for (let k = 0; k < this.actors.length; k++) {
      const i = (this.next + k) % this.actors.length;
      if (this.dead.has(i)) continue;
      if (best < 0 || this.inFlight[i] < this.inFlight[best]) best = i;
    }
    if (best < 0) return -1;
    this.next = (best + 1) % this.actors.length;
    return best;
  }

  /**
   * Sends the requests to one actor. An actor that died for good (an elastic
   * simulator whose node left) is left out from then on and the requests go
   * to another; a simulator that restarts is waited for by its handle.
   */
  async search(requests: readonly SearchRequest[]): Promise<SearchResult[]> {
    if (requests.length === 0) return [];
    for (;;) {
      const i = this.pick();
      if (i < 0) throw new Error(`every simulator of the pool died (${this.actors.length} of them); searches cannot be answered`);
      this.inFlight[i] += requests.length;
      this.sent[i] += requests.length;
      try {
        return await this.actors[i].search([...requests]);
      } catch (err) {
        if ((err as Error)?.name !== 'ActorDiedError') throw err;
        this.dead.add(i);
      } finally {
        this.inFlight[i] -= requests.length;
      }
    }
  }
}
