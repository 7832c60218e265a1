// The pod sandbox's "pause" process: it holds the pod's namespaces open,
// reaps the zombies of processes that share its PID namespace, and exits
// cleanly on SIGTERM/SIGINT. Nothing is pulled on the local cluster, so the
// project builds its own (static, no cgo).
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		// reap every child that has exited
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
