// Each command file registers itself on import; list them here.
import './version.js';
