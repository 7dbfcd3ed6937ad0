/** What a Frame carries. Numbers are wire values: never renumber. */
export const FrameKind = {
  /** First frame of a channel from the dialing side: who it is. */
  Hello: 1,
  /** Invoke `method` on actor `target`; `payload` holds the arguments. */
  Call: 2,
  /** Successful result of call `id`. */
  Result: 3,
  /** Failure of call or request `id`; `payload` holds the error. */
  Error: 4,
  /** One item of streaming call `id`. */
  StreamItem: 5,
  /** End of streaming call `id`. */
  StreamEnd: 6,
  /** The caller grants `count` more stream items for call `id`. */
  StreamCredit: 7,
  /** The caller cancels streaming call `id`. */
  Cancel: 8,
  /** A request to operation `target` (control plane, object fetch). */
  Request: 9,
  /** Reply to request `id`. */
  Reply: 10,
  /** One-way notification `target` (events). */
  Notify: 11,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

/** Bits of Frame.flags. */
export const FrameFlags = {
  /** Caller wants no result (fire-and-forget). */
  Oneway: 1,
  /** The payload contains handles, refs or bulk placeholders to revive. */
  Special: 2,
  /** The result is a stream (StreamItem frames follow, then StreamEnd). */
  Stream: 4,
  /** Payload is `undefined` and empty. */
  Undefined: 8,
} as const;
