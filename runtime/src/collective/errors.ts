import { CohortError } from '../errors.js';

/** Base class of the errors a collective operation raises. */
export class CollectiveError extends CohortError {
  override name = 'CollectiveError';
}

/** A peer did not send its part within the operation's timeout (it is slow, hung or dead). */
export class CollectiveTimeoutError extends CollectiveError {
  override name = 'CollectiveTimeoutError';
}

/** A peer could not be reached or its connection broke during the operation (it died). */
export class CollectivePeerError extends CollectiveError {
  override name = 'CollectivePeerError';
}

/** Members called different operations, or passed data of different names/sizes, at the same point. */
export class CollectiveMismatchError extends CollectiveError {
  override name = 'CollectiveMismatchError';
}
