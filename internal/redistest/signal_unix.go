//go:build unix

package redistest

import "syscall"

// Pause stops the server process with SIGSTOP: its connections stay open
// but nothing is read or answered, as across a network partition.
func (s *Server) Pause() error { return s.signal(syscall.SIGSTOP) }

// Resume continues a paused server with SIGCONT.
func (s *Server) Resume() error { return s.signal(syscall.SIGCONT) }
