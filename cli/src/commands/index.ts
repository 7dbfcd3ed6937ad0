// Each command file registers itself on import; list them here.
import './version.js';
import './start.js';
import './up.js';
import './down.js';
import './status.js';
import './list.js';
import './data-make.js';
import './search.js';
import './curriculum.js';
import './sim-serve.js';
import './bench-engine.js';
import './sim-tune.js';
import './bench-zerosearch.js';
import './bench-runtime.js';
import './data-inspect.js';
import './bench-cluster.js';
import './train.js';
