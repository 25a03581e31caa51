package postgres

import (
	"database/sql"
	"log/slog"
	"reflect"
)

// Pool sizes that New checks for; see the package documentation.
//
// database/sql closes a connection that is returned to the pool when
// MaxIdleConns connections are already idle (2 unless set), and opens a
// new one at the next burst: a backend fork and an authentication on the
// server, for every burst. With 8 concurrent requests and the default, the
// example server opened 89 PostgreSQL sessions per 1,000 sends. An
// unbounded pool (MaxOpenConns 0, the default) opens a session per
// concurrent request until PostgreSQL refuses with "too many clients",
// which then fails every query of every server sharing the database.

// checkPool logs a warning for each way db's pool is configured to churn
// or to overflow the server.
func checkPool(db *sql.DB, log *slog.Logger) {
	maxOpen := db.Stats().MaxOpenConnections
	if maxOpen <= 0 {
		log.Warn("postgres: the pool has no bound on open connections (db.SetMaxOpenConns): a burst of requests opens a PostgreSQL session each, up to the server's max_connections, and then every query fails with \"too many clients\"; bound it and set MaxIdleConns to the same number")
		return
	}
	if maxIdle, ok := maxIdleConns(db); ok && maxIdle < maxOpen {
		log.Warn("postgres: the pool keeps fewer idle connections than it opens (db.SetMaxIdleConns below db.SetMaxOpenConns): under steady load it closes connections and opens new PostgreSQL sessions over and over; set MaxIdleConns to MaxOpenConns",
			"max_open_conns", maxOpen, "max_idle_conns", maxIdle)
	}
}

// maxIdleConns returns the idle limit of db's pool. database/sql does not
// export it (DBStats has MaxOpenConnections only), so it is read from the
// unexported field, with the meaning database/sql gives it: 0 is the
// default of 2, a negative number is 0, and more than MaxOpenConnections
// is clamped to it. ok is false if the field is not there, as in a future
// Go release that renamed it: then New cannot tell, and says nothing.
//
// The pool must be configured before New is called; New reads the limit
// without the pool's lock.
func maxIdleConns(db *sql.DB) (n int, ok bool) {
	f := reflect.ValueOf(db).Elem().FieldByName("maxIdleCount")
	if !f.IsValid() || f.Kind() != reflect.Int {
		return 0, false
	}
	n = int(f.Int())
	switch {
	case n == 0:
		n = 2 // database/sql's defaultMaxIdleConns
	case n < 0:
		n = 0
	}
	if maxOpen := db.Stats().MaxOpenConnections; maxOpen > 0 && n > maxOpen {
		n = maxOpen
	}
	return n, true
}
