// Command tresor is the appliance: `tresor serve` runs the daemon, every
// other command is an admin action that talks to it over its control socket.
package main

import (
	"fmt"
	"os"
)

// version is stamped in by the Makefile from git.
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	err := dispatch(args)
	if err == nil {
		return 0
	}
	if u, ok := err.(usageError); ok {
		fmt.Fprintln(os.Stderr, "tresor:", u.msg)
		fmt.Fprintln(os.Stderr, "Run 'tresor help' for the commands.")
		return 2
	}
	fmt.Fprintln(os.Stderr, "tresor:", oneLine(err.Error()))
	return 1
}
