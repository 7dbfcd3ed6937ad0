import { z } from 'zod';
import { Rng } from '@cohort/engine/rng';

/** Serialisable data-loader position. */
export const dataLoaderStateSchema = z.strictObject({
  /** Seed of the shuffles; each epoch's order is derived from (seed, epoch). */
  seed: z.number().int().nonnegative(),
  /** Dataset size the state was made for (checked on restore). */
  size: z.number().int().positive(),
  epoch: z.number().int().nonnegative(),
  /** Next position within the epoch's order. */
  position: z.number().int().nonnegative(),
});
export type DataLoaderState = z.output<typeof dataLoaderStateSchema>;

/** One batch of example indices with where it came from. */
export interface LoaderBatch {
  /** Indices into the dataset. */
  indices: number[];
  /** Epoch of the first index. */
  epoch: number;
}

/**
 * Endless shuffled batches over `size` examples. Each epoch is a fresh
 * permutation derived from (seed, epoch) only, so the state is just
 * (epoch, position): saving it in a checkpoint and restoring continues with
 * exactly the same batches. A batch that crosses an epoch boundary takes the
 * rest of the old epoch and the start of the next one.
 */
export class DataLoader {
  private order: number[];
  private st: DataLoaderState;

  constructor(size: number, seed: number, state?: unknown) {
    if (!Number.isInteger(size) || size <= 0) throw new Error(`DataLoader: size must be an integer > 0, found ${size}`);
    if (state !== undefined) {
      const r = dataLoaderStateSchema.safeParse(state);
      if (!r.success) throw new Error(`invalid data-loader state: ${r.error.issues[0].path.join('.') || '(root)'}: ${r.error.issues[0].message}; pass what DataLoader.state() returned`);
      if (r.data.size !== size) throw new Error(`data-loader state is for a dataset of ${r.data.size} examples but this one has ${size}; the data changed since the checkpoint`);
      if (r.data.seed !== seed) throw new Error(`data-loader state has seed ${r.data.seed} but the loader was given ${seed}; resume with the run's seed`);
      if (r.data.position > size) throw new Error(`data-loader position ${r.data.position} is past the dataset size ${size}`);
      this.st = { ...r.data };
    } else {
      this.st = { seed, size, epoch: 0, position: 0 };
    }
    this.order = DataLoader.permutation(size, seed, this.st.epoch);
  }

  /** The order of epoch `epoch`. */
  static permutation(size: number, seed: number, epoch: number): number[] {
    return Rng.fromSeed(seed, `data-loader/epoch-${epoch}`).shuffle(Array.from({ length: size }, (_, i) => i));
  }

  /** The next `batchSize` indices. */
  next(batchSize: number): LoaderBatch {
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new Error(`DataLoader.next: batchSize must be an integer > 0, found ${batchSize}`);
    const epoch = this.st.epoch;
    const indices: number[] = [];
    while (indices.length < batchSize) {
      if (this.st.position >= this.st.size) {
        this.st.epoch++;
        this.st.position = 0;
        this.order = DataLoader.permutation(this.st.size, this.st.seed, this.st.epoch);
      }
      indices.push(this.order[this.st.position++]);
    }
    return { indices, epoch };
  }

  /** The position to save. */
  state(): DataLoaderState {
    return { ...this.st };
  }
}
