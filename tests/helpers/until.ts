/** Polls `pred` until true or the deadline (default 15 s); returns whether it became true. */
export async function until(pred: () => boolean | Promise<boolean>, timeoutMs = 15_000, stepMs = 25): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await pred()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return pred();
}
