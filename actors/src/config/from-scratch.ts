import type { TrainConfig } from './schema.js';

/**
 * The `--set` overrides that make a config remake its base policy instead of
 * loading it: `policy.model` and `policy.tokenizer` from `policy.fromScratch`
 * (when the policy is a shipped `model.path`) and the warm start switched on,
 * with the config's warmStart settings. Being overrides, they are part of the
 * config hash and the warm-start cache key.
 */
export function fromScratchOverrides(config: TrainConfig): string[] {
  const p = config.policy;
  if ('path' in p.model) {
    if (!p.fromScratch) throw new Error(`policy.model.path ${p.model.path} is a ready policy and the config has no policy.fromScratch to remake it from; add policy.fromScratch { config: {hidden_size, ...}, tokenizer: {kind: world} }`);
    return [`policy.model=${JSON.stringify({ config: p.fromScratch.config })}`, `policy.tokenizer=${JSON.stringify(p.fromScratch.tokenizer)}`, 'warmStart.enabled=true'];
  }
  return ['warmStart.enabled=true'];
}
