import { attr } from '../graph/graph.js';
import { Tensor, formatShape, normAxis } from '../graph/tensor.js';
import { zerosLike } from './fill.js';
import { unsqueeze } from './shape.js';
import { cast } from './where.js';

function checkIds(ids: Tensor, where: string): void {
  if (ids.dtype !== 'int64' && ids.dtype !== 'int32') {
    throw new Error(`${where}: indices must be int64 or int32, got ${ids.dtype} ('${ids.name}')`);
  }
}

/**
 * Row lookup along axis 0: table[V, ...rest], ids[...] → [...ids, ...rest] (embedding lookup).
 * Backward: a ScatterND with reduction 'add' into zeros shaped like the table.
 */
export function gather(table: Tensor, ids: Tensor): Tensor {
  const g = table.graph;
  g.own(ids, 'gather');
  checkIds(ids, 'gather');
  if (table.rank < 1) throw new Error('gather: table must have rank >= 1');
  const [y] = g.emit('Gather', [table, ids], [{ dtype: table.dtype, shape: [...ids.shape, ...table.shape.slice(1)] }], {
    attrs: { axis: attr.int(0) },
    backward: () => ([gy]) => {
      if (!gy) return [null, null];
      const idx = unsqueeze(cast(ids, 'int64'), -1);
      const [gt] = g.emit('ScatterND', [zerosLike(table), idx, gy], [{ dtype: table.dtype, shape: [...table.shape] }], {
        attrs: { reduction: attr.string('add') },
      });
      return [gt, null];
    },
  });
  return y;
}

/**
 * GatherElements: out[i][j][k] = x[i][idx[i][j][k]][k] along `axis`; `idx` has x's rank.
 * Typical use: per-token log-prob of chosen ids, takeAlongAxis(logp[B,T,V], ids[B,T,1], -1).
 */
export function takeAlongAxis(x: Tensor, idx: Tensor, axis: number): Tensor {
  const g = x.graph;
  g.own(idx, 'takeAlongAxis');
  checkIds(idx, 'takeAlongAxis');
  if (idx.rank !== x.rank) {
    throw new Error(`takeAlongAxis: indices rank ${idx.rank} ${formatShape(idx.shape)} must equal data rank ${x.rank} ${formatShape(x.shape)}; unsqueeze the ids`);
  }
  const ax = normAxis(axis, x.rank, 'takeAlongAxis');
  const [y] = g.emit('GatherElements', [x, idx], [{ dtype: x.dtype, shape: [...idx.shape] }], {
    attrs: { axis: attr.int(ax) },
    hint: 'take',
    backward: () => ([gy]) => {
      if (!gy) return [null, null];
      const [gx] = g.emit('ScatterElements', [zerosLike(x), idx, gy], [{ dtype: x.dtype, shape: [...x.shape] }], {
        attrs: { axis: attr.int(ax), reduction: attr.string('add') },
      });
      return [gx, null];
    },
  });
  return y;
}

/** Alias of {@link takeAlongAxis} along the last axis. */
export function gatherLastDim(x: Tensor, idx: Tensor): Tensor {
  return takeAlongAxis(x, idx, -1);
}
