/** A resource held back for an earlier pending entry. */
export interface Hold {
  resource: string;
  /** Id of the pending actor or placement group it is held for. */
  by: string;
}

/**
 * FIFO fairness bookkeeping: the resources that earlier pending entries are
 * short of, held back either everywhere or on the nodes those entries could
 * use. Later demands that need a held resource there wait behind them. A
 * disabled instance (`fairness: 'greedy'`) records nothing.
 */
export class FifoHolds {
  private readonly everywhere = new Map<string, string>();
  private readonly perNode = new Map<string, Map<string, string>>();

  constructor(readonly enabled: boolean) {}

  clear(): void {
    this.everywhere.clear();
    this.perNode.clear();
  }

  /** Holds `resources` for pending entry `by` on `nodes` (undefined: on every node). The earliest holder wins. */
  add(by: string, resources: readonly string[], nodes?: readonly string[]): void {
    if (!this.enabled || resources.length === 0) return;
    if (nodes === undefined) {
      for (const r of resources) if (!this.everywhere.has(r)) this.everywhere.set(r, by);
      return;
    }
    for (const node of nodes) {
      let m = this.perNode.get(node);
      if (!m) this.perNode.set(node, (m = new Map()));
      for (const r of resources) if (!m.has(r)) m.set(r, by);
    }
  }

  /** A hold on any of `names` that applies on every node. */
  global(names: readonly string[]): Hold | undefined {
    return this.everywhere.size ? first(this.everywhere, names) : undefined;
  }

  /** Whether any hold is scoped to particular nodes. */
  hasNodeHolds(): boolean {
    return this.perNode.size > 0;
  }

  /** A node-scoped hold on any of `names` on `nodeId`. */
  onNode(names: readonly string[], nodeId: string): Hold | undefined {
    const m = this.perNode.get(nodeId);
    return m ? first(m, names) : undefined;
  }

  /** Any hold (everywhere or node-scoped) on any of `names` on `nodeId`. */
  on(names: readonly string[], nodeId: string): Hold | undefined {
    return this.global(names) ?? this.onNode(names, nodeId);
  }

  /** A node-scoped hold on any of `names` on any node (to name it in a reason). */
  anywhere(names: readonly string[]): Hold | undefined {
    for (const m of this.perNode.values()) {
      const h = first(m, names);
      if (h) return h;
    }
    return undefined;
  }
}

function first(m: Map<string, string>, names: readonly string[]): Hold | undefined {
  for (const r of names) {
    const by = m.get(r);
    if (by !== undefined) return { resource: r, by };
  }
  return undefined;
}
