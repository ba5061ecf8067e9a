// Command dirgate runs the directory gateway and inspects its cache.
//
//	dirgate serve            [--config FILE]
//	dirgate sync             [--config FILE] [--upstream NAME] [--full] [--allow-deletes]
//	dirgate status           [--config FILE] [--json]
//	dirgate cache stats|users|groups|user NAME|group NAME|export
//	dirgate hash-password
//	dirgate config check     [--config FILE]
//
// With serve running, the other commands talk to it over the unix socket in
// data_dir; without it, they open the store themselves.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/dirgate/dirgate/internal/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// exitError carries an exit code through urfave/cli without its os.Exit.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: tests call it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := newApp(stdin, stdout, stderr)
	if err := app.RunContext(ctx, reorderArgs(app, args)); err != nil {
		fmt.Fprintf(stderr, "dirgate: %v\n", err)
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		return 1
	}
	return 0
}

var configFlag = &cli.StringFlag{
	Name:    "config",
	Aliases: []string{"c"},
	Usage:   "configuration `FILE`",
	Value:   "dirgate.yaml",
	EnvVars: []string{"DIRGATE_CONFIG"},
}

var jsonFlag = &cli.BoolFlag{Name: "json", Usage: "print JSON (stable, documented) instead of a table"}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:      "dirgate",
		Usage:     "an LDAP and Crowd REST gateway over federated, cached user directories",
		Version:   version,
		Reader:    stdin,
		Writer:    stdout,
		ErrWriter: stderr,
		// Errors are printed once, by run; never os.Exit from inside.
		ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{
			serveCommand(),
			syncCommand(),
			statusCommand(),
			cacheCommand(),
			hashPasswordCommand(),
			{
				Name:  "config",
				Usage: "work with the configuration file",
				Subcommands: []*cli.Command{{
					Name:   "check",
					Usage:  "read and validate the configuration, reporting every problem with its key",
					Flags:  []cli.Flag{configFlag},
					Action: configCheck,
				}},
			},
		},
	}
}

// loadConfig reads --config and builds the process logger from it.
func loadConfig(c *cli.Context) (*config.Config, *slog.Logger, error) {
	cfg, err := config.Load(c.String("config"))
	if err != nil {
		return nil, nil, &exitError{code: 2, err: err}
	}
	return cfg, newLogger(cfg.Log, c.App.ErrWriter), nil
}

func newLogger(l config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	switch strings.ToLower(l.Level) {
	case "debug":
		level = slog.LevelDebug
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if l.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func configCheck(c *cli.Context) error {
	cfg, err := config.Load(c.String("config"))
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	fmt.Fprintf(c.App.Writer, "%s: configuration OK\n", c.String("config"))
	fmt.Fprintf(c.App.Writer, "  data_dir: %s\n", cfg.DataDir)
	fmt.Fprintf(c.App.Writer, "  base_dn:  %s\n", cfg.BaseDN)
	for i, u := range cfg.Upstreams {
		fmt.Fprintf(c.App.Writer, "  upstream %d: %s (%s), refresh every %s, full every %s\n", i+1, u.Name, u.Type, u.Refresh.Interval, u.Refresh.FullEvery)
	}
	return nil
}

// valueFlags are the flags that take a value, for reorderArgs.
var valueFlags = map[string]bool{"--config": true, "-config": true, "-c": true, "--upstream": true, "-upstream": true, "--format": true, "-format": true}

// reorderArgs moves flags in front of positional arguments within each
// command ("cache user alice --json" → "cache user --json alice"), because
// urfave/cli v2 stops parsing flags at the first positional argument and
// the documented usage puts them after it. Command names stay where they
// are: a token is a command name while it names a subcommand of the
// current one.
func reorderArgs(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	cmds := app.Commands
	i := 1
	for i < len(args) && !strings.HasPrefix(args[i], "-") {
		var next *cli.Command
		for _, c := range cmds {
			if c.HasName(args[i]) {
				next = c
			}
		}
		if next == nil {
			break
		}
		out = append(out, args[i])
		cmds = next.Subcommands
		i++
	}
	var flags, pos []string
	for ; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			pos = append(pos, args[i:]...)
			i = len(args)
		case strings.HasPrefix(a, "-") && len(a) > 1:
			flags = append(flags, a)
			if valueFlags[a] && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
		default:
			pos = append(pos, a)
		}
	}
	return append(append(out, flags...), pos...)
}
