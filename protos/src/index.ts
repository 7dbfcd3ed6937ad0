import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';

export { FrameKind, FrameFlags } from './frame-kind.js';

/** Path of the `.proto` file that defines the data-plane envelope. */
export const protoPath = new URL('./cohort.proto', import.meta.url);

/** One framed message on a data-plane stream (see `cohort.proto`). */
export interface Frame {
  kind: number;
  id: number;
  target: string;
  method: string;
  payload: Uint8Array;
  flags: number;
  /** Byte lengths of bulk attachments (sent on the bulk socket). */
  bulk: number[];
  count: number;
}

const root = protobuf.parse(readFileSync(protoPath, 'utf8'), { keepCase: true }).root;
const FrameType = root.lookupType('cohort.v1.Frame');
const BatchType = root.lookupType('cohort.v1.Batch');

/** Encodes frames into one Batch message (one stream write). */
export function encodeBatch(frames: Frame[]): Uint8Array {
  return BatchType.encode({ frames }).finish();
}

/** Decodes a Batch message; every field is filled in (defaults for absent ones). */
export function decodeBatch(bytes: Uint8Array): Frame[] {
  const msg = BatchType.decode(bytes) as unknown as { frames: WireFrame[] };
  return msg.frames.map(normalize);
}

type WireFrame = Partial<Omit<Frame, 'bulk'>> & { bulk?: Array<number | { toNumber(): number }> };

function normalize(f: WireFrame): Frame {
  return {
    kind: f.kind ?? 0,
    id: f.id ?? 0,
    target: f.target ?? '',
    method: f.method ?? '',
    payload: f.payload ?? EMPTY,
    flags: f.flags ?? 0,
    bulk: (f.bulk ?? []).map((b) => (typeof b === 'number' ? b : b.toNumber())),
    count: f.count ?? 0,
  };
}

const EMPTY = new Uint8Array(0);

/** Checks a frame against the schema; returns a message naming the problem, or null. */
export function verifyFrame(frame: Frame): string | null {
  return FrameType.verify(frame);
}
