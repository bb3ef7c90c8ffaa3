package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"tresor/appliance/api"
	"tresor/appliance/datadir"
)

// usageError is a mistake on the command line (exit code 2).
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// command is one `tresor <noun> [verb]`.
type command struct {
	name  string // "pool status"
	args  string // argument synopsis
	short string
	run   func(c *cmdEnv, args []string) error
	flags func(fs *flag.FlagSet, c *cmdEnv)
}

var commands []*command

func register(c *command) { commands = append(commands, c) }

// cmdEnv carries the flags every command has.
type cmdEnv struct {
	fs      *flag.FlagSet
	dataDir string
	socket  string
	json    bool
	out     io.Writer
}

func dispatch(args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printHelp(os.Stdout)
		return nil
	}
	if args[0] == "version" || args[0] == "--version" {
		fmt.Println("tresor", version)
		return nil
	}
	// Longest match: "pool status" before "pool".
	var cmd *command
	n := 0
	for _, c := range commands {
		words := strings.Fields(c.name)
		if len(words) <= len(args) && len(words) > n && equalWords(words, args[:len(words)]) {
			cmd, n = c, len(words)
		}
	}
	if cmd == nil {
		var verbs []string
		for _, c := range commands {
			if w := strings.Fields(c.name); len(w) > 1 && w[0] == args[0] {
				verbs = append(verbs, w[1])
			}
		}
		if len(verbs) > 0 {
			if len(args) == 1 {
				return usagef("%s needs one of: %s", args[0], strings.Join(verbs, ", "))
			}
			return usagef("%s: unknown verb %q (want one of: %s)", args[0], args[1], strings.Join(verbs, ", "))
		}
		return usagef("unknown command %q", args[0])
	}
	env := &cmdEnv{out: os.Stdout}
	fs := flag.NewFlagSet("tresor "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	env.fs = fs
	fs.StringVar(&env.dataDir, "data-dir", "", "data directory (env TRESOR_DATA_DIR)")
	fs.StringVar(&env.socket, "socket", "", "control socket (default DATA/run/tresor.sock; env TRESOR_SOCKET)")
	fs.BoolVar(&env.json, "json", false, "print data as JSON")
	if cmd.flags != nil {
		cmd.flags(fs, env)
	}
	rest, err := parseInterspersed(fs, args[n:])
	if err != nil {
		if err == flag.ErrHelp {
			printCommandHelp(os.Stdout, cmd, fs)
			return nil
		}
		return usagef("%s: %v", cmd.name, err)
	}
	if err := applyEnv(fs); err != nil {
		return err
	}
	return cmd.run(env, rest)
}

// parseInterspersed lets flags come after positional arguments too
// (`tresor tenant create kanzlei --admin anna`), as admins type them.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// applyEnv gives every flag not set on the command line the value of the
// environment variable of the same name: --data-dir ← TRESOR_DATA_DIR.
func applyEnv(fs *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		env := "TRESOR_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok && v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = usagef("%s=%q: %v", env, v, e)
			}
		}
	})
	return err
}

func equalWords(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "tresor: the encrypted, erasure-coded file vault for offices")
	fmt.Fprintln(w, "\nUsage: tresor <command> [flags]\n\nCommands:")
	cs := append([]*command(nil), commands...)
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-28s %s\n", strings.TrimSpace(c.name+" "+c.args), c.short)
	}
	fmt.Fprintln(w, "\nEvery command takes --data-dir (env TRESOR_DATA_DIR) and --json; flags also read TRESOR_<FLAG>.")
}

func printCommandHelp(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: tresor %s %s\n\n%s\n\nFlags:\n", c.name, c.args, c.short)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// dataDirPath resolves --data-dir, requiring it.
func (c *cmdEnv) dataDirPath() (string, error) {
	if c.dataDir == "" {
		return "", usagef("no data directory: give --data-dir or set TRESOR_DATA_DIR")
	}
	return filepath.Abs(c.dataDir)
}

// client returns a client for the daemon's control socket.
func (c *cmdEnv) client() (*api.Client, error) {
	if c.socket != "" {
		return api.NewClient(c.socket), nil
	}
	p, err := c.dataDirPath()
	if err != nil {
		return nil, usagef("no daemon to talk to: give --data-dir (or --socket), or set TRESOR_DATA_DIR")
	}
	d, err := datadir.Open(p)
	if err != nil {
		return nil, err
	}
	return api.NewClient(d.Socket()), nil
}

// print writes v as JSON with --json, else calls human.
func (c *cmdEnv) print(v any, human func(w io.Writer)) error {
	if c.json {
		enc := json.NewEncoder(c.out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	human(c.out)
	return nil
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// readSecretFile reads a password file, dropping one trailing newline; a
// missing or empty file is an error, never an empty password.
func readSecretFile(flagName, path string) ([]byte, error) {
	if path == "" {
		return nil, usagef("--%s is required", flagName)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", flagName, err)
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if s == "" {
		return nil, fmt.Errorf("--%s: %s is empty", flagName, path)
	}
	return []byte(s), nil
}
