// Each command file registers itself on import; list them here.
import './version.js';
import './start.js';
import './up.js';
import './down.js';
import './status.js';
import './list.js';
