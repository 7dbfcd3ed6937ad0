import { attr } from '../graph/graph.js';
import { Tensor, formatShape } from '../graph/tensor.js';
import { add, mul } from './elementwise.js';
import { takeAlongAxis } from './gather.js';
import { requireFloat } from './operand.js';
import { sum } from './reduce.js';
import { squeeze, unsqueeze } from './shape.js';
import { logSoftmax } from './softmax.js';
import { exp, neg } from './unary.js';
import { cast } from './where.js';

/**
 * Per-token log-probability of `ids` under `logits` [..., V] and the entropy of each
 * distribution, both shaped like `ids` [...]; plus the full `logp` [..., V].
 * One fused backward, dz = onehot·g_lp − p·(g_lp + g_H·(logp + H)), replaces the chain rule
 * through logSoftmax, GatherElements, exp, mul and sum (about half the [..., V]-sized passes).
 */
export function logprobEntropy(logits: Tensor, ids: Tensor): { logprobs: Tensor; entropy: Tensor; logp: Tensor } {
  requireFloat(logits, 'logprobEntropy');
  const g = logits.graph;
  g.own(ids, 'logprobEntropy');
  if (ids.dtype !== 'int64' && ids.dtype !== 'int32') throw new Error(`logprobEntropy: ids must be int64 or int32, got ${ids.dtype}`);
  if (ids.rank !== logits.rank - 1) {
    throw new Error(`logprobEntropy: ids ${formatShape(ids.shape)} must have the shape of logits ${formatShape(logits.shape)} without the vocab axis`);
  }
  const idx = unsqueeze(cast(ids, 'int64'), -1);
  let logp!: Tensor;
  let p!: Tensor;
  let ent!: Tensor;
  const [logprobs, entropy] = g.customGrad(
    [logits],
    () => {
      logp = logSoftmax(logits, -1);
      p = exp(logp);
      ent = neg(sum(mul(p, logp), -1, true));
      return [squeeze(takeAlongAxis(logp, idx, -1), -1), squeeze(ent, -1)];
    },
    () => ([gLp, gH]) => {
      const gl = gLp ? unsqueeze(gLp, -1) : null;
      let c: Tensor | null = gH ? mul(unsqueeze(gH, -1), add(logp, ent)) : null;
      if (gl) c = c ? add(c, gl) : gl;
      if (!c) return [null];
      let dz = neg(mul(p, c));
      if (gl) {
        [dz] = g.emit('ScatterElements', [dz, idx, gl], [{ dtype: logits.dtype, shape: [...logits.shape] }], {
          attrs: { axis: attr.int(logits.rank - 1), reduction: attr.string('add') },
        });
      }
      return [dz];
    },
    'logprobEntropy',
  );
  return { logprobs, entropy, logp };
}
