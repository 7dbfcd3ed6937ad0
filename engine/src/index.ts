export {};
export * from './io/safetensors.js';
export * from './io/model-config.js';
export * from './io/weight-names.js';
export * from './tokenizer/bpe-trainer.js';
export * from './tokenizer/tokenizer.js';
