import { attr } from '../graph/graph.js';
import { normAxis, type Tensor } from '../graph/tensor.js';
import { mul, sub } from './elementwise.js';
import { requireFloat } from './operand.js';
import { sum } from './reduce.js';
import { exp } from './unary.js';

/** Softmax along `axis` (default last). */
export function softmax(x: Tensor, axis = -1): Tensor {
  requireFloat(x, 'softmax');
  const ax = normAxis(axis, x.rank, 'softmax');
  const [y] = x.graph.emit('Softmax', [x], [{ dtype: x.dtype, shape: [...x.shape] }], {
    attrs: { axis: attr.int(ax) },
    backward: ([y]) => ([gy]) => [gy ? mul(y, sub(gy, sum(mul(gy, y), ax, true))) : null],
  });
  return y;
}

/** Log-softmax along `axis` (default last). */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  requireFloat(x, 'logSoftmax');
  const ax = normAxis(axis, x.rank, 'logSoftmax');
  const [y] = x.graph.emit('LogSoftmax', [x], [{ dtype: x.dtype, shape: [...x.shape] }], {
    attrs: { axis: attr.int(ax) },
    hint: 'logsoftmax',
    backward: ([y]) => ([gy]) => [gy ? sub(gy, mul(exp(y), sum(gy, ax, true))) : null],
  });
  return y;
}
