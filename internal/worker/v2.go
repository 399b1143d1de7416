package worker

import (
	"time"
)

// idleTimeout is how long a v2 connection may sit between requests. It is longer
// than the master's idle time for pooled connections, so that the master, not
// the worker, closes them and never sends a job into a closing connection.
const idleTimeout = 2 * time.Minute
