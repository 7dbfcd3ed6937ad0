export { main } from './main.js';
export type { Command } from './command.js';
export { UsageError } from './command.js';
export { commands, findCommand } from './registry.js';
export { parseFlags } from './args.js';
