import onnxPkg from 'onnx-proto';
import { ONNX_DTYPE } from './dtype.js';
import type { Attr, ConstantData, Graph } from './graph.js';
import type { Tensor } from './tensor.js';

const { onnx } = onnxPkg;

/** ONNX default-domain opset the builder emits. */
export const OPSET_VERSION = 18;
/** ONNX IR version of emitted models. */
export const IR_VERSION = 8;

const AT = onnx.AttributeProto.AttributeType;

function tensorProto(name: string, data: ConstantData): onnxPkg.onnx.ITensorProto {
  return { name, dataType: ONNX_DTYPE[data.dtype], dims: data.shape, rawData: data.bytes };
}

function attrProto(name: string, a: Attr): onnxPkg.onnx.IAttributeProto {
  switch (a.kind) {
    case 'int': return { name, type: AT.INT, i: a.value };
    case 'float': return { name, type: AT.FLOAT, f: a.value };
    case 'ints': return { name, type: AT.INTS, ints: a.value };
    case 'floats': return { name, type: AT.FLOATS, floats: a.value };
    case 'string': return { name, type: AT.STRING, s: new TextEncoder().encode(a.value) };
    case 'tensor': return { name, type: AT.TENSOR, t: tensorProto('', a.value) };
  }
}

function valueInfo(name: string, t: Tensor): onnxPkg.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ONNX_DTYPE[t.dtype],
        shape: {
          dim: t.shape.map((d) =>
            typeof d === 'number' ? { dimValue: d } : d.startsWith('?') ? {} : { dimParam: d },
          ),
        },
      },
    },
  };
}

/**
 * Nodes that contribute to some graph output, in their original (topological) order. Backward
 * rules may emit gradients nobody asked for (e.g. for a constant operand); those are dropped.
 */
function liveNodes(g: Graph): Graph['nodes'] {
  const needed = new Set(g.outputs.map((o) => o.tensor.name));
  const live: boolean[] = new Array(g.nodes.length).fill(false);
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (!n.outputs.some((o) => needed.has(o))) continue;
    live[i] = true;
    for (const inp of n.inputs) if (inp) needed.add(inp);
  }
  return g.nodes.filter((_, i) => live[i]);
}

/** Serializes a graph to ModelProto bytes (dead nodes and unused initializers dropped). @internal */
export function serializeModel(g: Graph): Uint8Array {
  const nodes = liveNodes(g);
  const used = new Set(nodes.flatMap((n) => n.inputs));
  for (const o of g.outputs) used.add(o.tensor.name);
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: 'cohort-engine',
    producerVersion: '0.1.0',
    opsetImport: [{ domain: '', version: OPSET_VERSION }],
    graph: {
      name: g.name,
      node: nodes.map((n) => ({
        name: n.name,
        opType: n.opType,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs).map(([k, v]) => attrProto(k, v)),
      })),
      initializer: g.initializers.filter((i) => used.has(i.name)).map((i) => tensorProto(i.name, i.data)),
      input: g.inputs.map((t) => valueInfo(t.name, t)),
      output: g.outputs.map((o) => valueInfo(o.name, o.tensor)),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
