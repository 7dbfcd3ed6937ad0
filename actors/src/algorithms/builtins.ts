// Importing this module registers the built-in algorithms (each file registers itself).
import './reinforce.js';
import './reinforce-plus-plus.js';
import './grpo.js';
import './ppo.js';
import './drgrpo.js';
import './dapo.js';
import './gspo.js';
