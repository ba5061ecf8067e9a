package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/certs"
	"github.com/dirgate/dirgate/internal/config"
	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/ldapfront"
	"github.com/dirgate/dirgate/restfront"
	"github.com/dirgate/dirgate/restfront/admin"
	"github.com/dirgate/dirgate/upstream"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:   "serve",
		Usage:  "run the gateway: the refresher, the frontends and the admin socket",
		Flags:  []cli.Flag{configFlag},
		Action: serve,
	}
}

// serveGCPercent is the garbage collector's target in serve (unless GOGC
// is set): the directory is a large, long-lived heap, and at Go's default
// of 100 the heap may grow to twice its size between collections. 60 keeps
// the process's footprint near the working set for a little more GC work.
const serveGCPercent = 60

// serveMinProcs is the fewest Go processors serve runs with (unless
// GOMAXPROCS is set). dirgate mostly waits on sockets and shares small
// hosts with other processes (the LDAP server it passes binds to, the
// applications). With one P per CPU, a P whose thread the kernel has
// descheduled holds up the goroutines queued on it; with more Ps than
// CPUs, the kernel shares the CPUs among more threads in smaller slices
// and fewer goroutines wait behind a thread that is not running. Measured
// on two cores (bench/, README), the Crowd nested-group p99 at 64 clients
// was 12-13 ms with two Ps, 7-8 ms with four, 4.4-5.9 ms with eight and
// 3.9-4.8 ms with twelve (6.0 ms in a slow hour, when the net/http floor
// was at 6.9 ms; otherwise the floor was at 4.5-6.1 ms); pass-through
// binds and LDAP searches were the same within the noise, CPU per request
// at a moderate rate no higher, peak RSS under the LDAP load 310-355 MiB
// against about 300. The cost is a few more threads.
const serveMinProcs = 12

func serve(c *cli.Context) error {
	cfg, log, err := loadConfig(c)
	if err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
	if os.Getenv("GOMAXPROCS") == "" && goruntime.GOMAXPROCS(0) < serveMinProcs {
		goruntime.GOMAXPROCS(serveMinProcs)
	}
	rt, err := openRuntime(cfg, log, true)
	if err != nil {
		return err
	}
	defer rt.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ldapSrv, err := startLDAP(cfg, rt, reg, log.With("component", "ldap"))
	if err != nil {
		return err
	}
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	reg.MustRegister(restfront.NewUpstreamCollector(rt.store))
	restSrv, err := startREST(c.Context, cfg, rt, reg, metrics, log.With("component", "rest"))
	if err != nil {
		stopLDAP(ldapSrv, log)
		return err
	}
	lis, err := admin.Listen(cfg.DataDir)
	if err != nil {
		stopLDAP(ldapSrv, log)
		stopREST(restSrv, log)
		return err
	}
	srv := &http.Server{Handler: admin.Handler(rt.admin(true), metrics, log.With("component", "admin")), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin socket", "err", err)
		}
	}()
	users, groups := rt.store.Counts()
	log.Info("dirgate serving", "version", version, "data_dir", cfg.DataDir, "users", users, "groups", groups,
		"upstreams", strings.Join(cfg.UpstreamNames(), ","), "admin_socket", admin.SocketPath(cfg.DataDir))

	ctx, cancel := context.WithCancel(c.Context)
	defer cancel()
	// A big sync leaves a heap twice the directory's size behind it, and
	// the garbage collector's next target follows it; give the memory back
	// at once so that the server's footprint is its working set, and keep
	// it there (memory.go).
	if gov := newMemoryGovernor(log); gov != nil {
		gov.settle() // what loading the stored directory left behind
		go gov.run(ctx)
		rt.refresher.BeforeSync = gov.beforeSync
		rt.refresher.OnSync = func(_ string, run cache.SyncRun) { gov.onSync(run) }
	} else {
		rt.refresher.OnSync = func(_ string, run cache.SyncRun) {
			if bigChange(run) {
				debug.FreeOSMemory()
			}
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		rt.refresher.Run(ctx)
	}()
	<-ctx.Done()
	log.Info("shutting down")
	stopLDAP(ldapSrv, log)
	stopREST(restSrv, log)
	shutdown, done := context.WithTimeout(context.Background(), 10*time.Second)
	defer done()
	_ = srv.Shutdown(shutdown)
	wg.Wait()
	_ = os.Remove(admin.SocketPath(cfg.DataDir))
	return nil
}

// startLDAP starts the LDAP frontend when a listener is configured.
func startLDAP(cfg *config.Config, rt *runtime, reg prometheus.Registerer, log *slog.Logger) (*ldapfront.Server, error) {
	listen := listenAddr(cfg.LDAP.Listen)
	if listen == "" && cfg.LDAP.LDAPSListen == "" {
		return nil, nil
	}
	src, err := certs.Open(certsConfig(cfg, log))
	if err != nil {
		return nil, err
	}
	rt.certs = src
	info := src.Info()
	log.Info("LDAP TLS certificate", "sha256", info.SHA256, "not_after", info.NotAfter.Format(time.RFC3339), "self_signed", info.SelfSigned, "ca_file", info.CAFile)
	lc := ldapfront.Config{
		Listen: listen, LDAPSListen: cfg.LDAP.LDAPSListen, TLS: src.TLSConfig(), Tree: rt.tree,
		AllowAnonymousSearch: cfg.LDAP.AllowAnonymousSearch, Checkers: rt.checkers(),
		Logger: log, Metrics: ldapfront.NewMetrics(reg),
	}
	for _, sa := range cfg.LDAP.ServiceAccounts {
		lc.ServiceAccounts = append(lc.ServiceAccounts, ldapfront.ServiceAccount{Name: sa.Name, PasswordHash: sa.PasswordHash.Reveal()})
	}
	s, err := ldapfront.New(lc, rt.store)
	if err != nil {
		return nil, err
	}
	if err := s.Start(); err != nil {
		return nil, err
	}
	return s, nil
}

// startREST starts the Crowd REST frontend when rest.listen is set.
func startREST(ctx context.Context, cfg *config.Config, rt *runtime, reg prometheus.Registerer, metrics http.Handler, log *slog.Logger) (*restfront.Server, error) {
	listen := listenAddr(cfg.REST.Listen)
	if listen == "" {
		return nil, nil
	}
	rc := restfront.Config{
		Listen: listen, ContextPath: cfg.REST.ContextPath, TrustedProxies: cfg.REST.TrustedProxies,
		SessionTimeout: cfg.REST.SessionTimeout,
		Cookie:         restfront.CookieConfig{Name: cfg.REST.Cookie.Name, Domain: cfg.REST.Cookie.Domain, Secure: cfg.REST.Cookie.Secure},
		Checkers:       rt.checkers(), Logger: log, Metrics: restfront.NewMetrics(reg), MetricsHandler: metrics,
	}
	if cfg.REST.TLS.CertFile != "" {
		src, err := certs.Open(certs.Config{CertFile: cfg.REST.TLS.CertFile, KeyFile: cfg.REST.TLS.KeyFile, Logger: log})
		if err != nil {
			return nil, err
		}
		rt.closers = append(rt.closers, src.Close)
		rc.TLS = src.TLSConfig()
	}
	for i, u := range rt.ups {
		if w, ok := u.(upstream.Writer); ok {
			rc.Writer, rc.WriterUpstream = w, cfg.Upstreams[i].Name
			break
		}
	}
	for _, a := range cfg.REST.Applications {
		rc.Applications = append(rc.Applications, restfront.Application{
			Name: a.Name, PasswordHash: a.PasswordHash.Reveal(), RemoteAddresses: a.RemoteAddresses,
			AllowedGroups: a.AllowedGroups, Aggregate: a.AggregateMemberships == nil || *a.AggregateMemberships,
			Lowercase: a.LowercaseOutput, Write: slices.Contains(a.Permissions, "write"),
		})
	}
	s, err := restfront.New(ctx, rc, rt.store)
	if err != nil {
		return nil, err
	}
	if err := s.Start(); err != nil {
		return nil, err
	}
	return s, nil
}

func stopREST(s *restfront.Server, log *slog.Logger) {
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		log.Warn("REST frontend did not stop cleanly", "err", err)
	}
}

func stopLDAP(s *ldapfront.Server, log *slog.Logger) {
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		log.Warn("LDAP frontend did not stop cleanly", "err", err)
	}
}

func syncCommand() *cli.Command {
	return &cli.Command{
		Name:  "sync",
		Usage: "sync upstreams now (through the running serve process if there is one)",
		Flags: []cli.Flag{
			configFlag,
			&cli.StringFlag{Name: "upstream", Usage: "sync only upstream `NAME`"},
			&cli.BoolFlag{Name: "full", Usage: "fetch everything (incremental otherwise, where the upstream can)"},
			&cli.BoolFlag{Name: "allow-deletes", Usage: "apply the sync even if it deletes more than max_delete_percent"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			cfg, log, err := loadConfig(c)
			if err != nil {
				return err
			}
			svc, closeFn, err := service(c.Context, cfg, log, true)
			if err != nil {
				return err
			}
			defer closeFn()
			req := admin.SyncRequest{Upstream: c.String("upstream"), Full: c.Bool("full"), AllowDeletes: c.Bool("allow-deletes")}
			p := newProgress(c.App.ErrWriter)
			out, err := svc.Sync(c.Context, req, p.report)
			p.done()
			if err != nil && len(out) == 0 {
				return err
			}
			if c.Bool("json") {
				if err := writeJSON(c.App.Writer, out); err != nil {
					return err
				}
			} else {
				renderSync(c.App.Writer, out)
			}
			if err != nil {
				return err
			}
			for _, o := range out {
				if o.Error != "" {
					return &exitError{code: 1, err: fmt.Errorf("sync of %s failed", o.Upstream)}
				}
			}
			return nil
		},
	}
}

// progress prints "entries fetched per second" on a terminal, one line
// rewritten in place.
type progress struct {
	w       io.Writer
	tty     bool
	mu      sync.Mutex
	started map[string]time.Time
	printed bool
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, tty: ok && term.IsTerminal(int(f.Fd())), started: map[string]time.Time{}}
}

func (p *progress) report(pr admin.Progress) {
	if !p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	start, ok := p.started[pr.Upstream]
	if !ok {
		start = time.Now()
		p.started[pr.Upstream] = start
	}
	rate := float64(pr.Fetched) / max(time.Since(start).Seconds(), 0.001)
	fmt.Fprintf(p.w, "\r\033[Ksyncing %s: %d entries fetched (%.0f/s)", pr.Upstream, pr.Fetched, rate)
	p.printed = true
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.printed {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "per upstream: state, last and next sync, counts, errors",
		Flags: []cli.Flag{configFlag, jsonFlag},
		Action: show(func(c *cli.Context, svc admin.Service) (*admin.Status, error) { return svc.Status(c.Context) },
			func(w io.Writer, st *admin.Status) { renderStatus(w, st, time.Now()) }),
	}
}

// withService runs fn with the admin service for a read-only command.
func withService(c *cli.Context, fn func(admin.Service) error) error {
	cfg, log, err := loadConfig(c)
	if err != nil {
		return err
	}
	svc, closeFn, err := service(c.Context, cfg, log, false)
	if err != nil {
		return err
	}
	defer closeFn()
	return fn(svc)
}

// show is the action of a read-only command: fetch one value through the
// admin service, then print it as JSON (--json) or as a table.
func show[T any](get func(c *cli.Context, svc admin.Service) (T, error), render func(io.Writer, T)) cli.ActionFunc {
	return func(c *cli.Context) error {
		return withService(c, func(svc admin.Service) error {
			v, err := get(c, svc)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return writeJSON(c.App.Writer, v)
			}
			render(c.App.Writer, v)
			return nil
		})
	}
}

// named is show for the commands that take one name argument.
func named[T any](what string, get func(svc admin.Service, ctx context.Context, name string) (T, error), render func(io.Writer, T)) cli.ActionFunc {
	return show(func(c *cli.Context, svc admin.Service) (T, error) {
		var zero T
		if c.NArg() != 1 {
			return zero, &exitError{code: 2, err: fmt.Errorf("cache %s: expected one %s name, got %d arguments", what, what, c.NArg())}
		}
		return get(svc, c.Context, c.Args().First())
	}, render)
}

func cacheCommand() *cli.Command {
	flags := []cli.Flag{configFlag, jsonFlag}
	return &cli.Command{
		Name:  "cache",
		Usage: "inspect the cached directory",
		Subcommands: []*cli.Command{
			{
				Name: "stats", Usage: "counts of users, groups, memberships; cycles; disk use", Flags: flags,
				Action: show(func(c *cli.Context, svc admin.Service) (*admin.Stats, error) { return svc.Stats(c.Context) }, renderStats),
			},
			{
				Name: "users", Usage: "list users (of the merged view, or of one upstream)",
				Flags: append([]cli.Flag{&cli.StringFlag{Name: "upstream", Usage: "list upstream `NAME`'s own records"}}, flags...),
				Action: show(func(c *cli.Context, svc admin.Service) ([]admin.UserSummary, error) {
					return svc.Users(c.Context, c.String("upstream"))
				}, renderUsers),
			},
			{
				Name: "groups", Usage: "list groups", Flags: flags,
				Action: show(func(c *cli.Context, svc admin.Service) ([]admin.GroupSummary, error) { return svc.Groups(c.Context) }, renderGroups),
			},
			{
				Name: "user", Usage: "show a user: record, source upstream, direct and nested groups", ArgsUsage: "NAME", Flags: flags,
				Action: named("user", admin.Service.User, renderUser),
			},
			{
				Name: "group", Usage: "show a group: direct and nested members, parents", ArgsUsage: "NAME", Flags: flags,
				Action: named("group", admin.Service.Group, renderGroup),
			},
			{
				Name: "export", Usage: "write every entry as JSON or as LDIF (exactly what the LDAP frontend serves)",
				Flags: []cli.Flag{configFlag, &cli.StringFlag{Name: "format", Value: "json", Usage: "json or ldif"}},
				Action: func(c *cli.Context) error {
					f := c.String("format")
					if f != "json" && f != "ldif" {
						return &exitError{code: 2, err: fmt.Errorf("--format: %q is neither json nor ldif", f)}
					}
					return withService(c, func(svc admin.Service) error {
						w := bufio.NewWriterSize(c.App.Writer, 64<<10)
						if err := svc.Export(c.Context, f, w); err != nil {
							return err
						}
						return w.Flush()
					})
				},
			},
		},
	}
}

func hashPasswordCommand() *cli.Command {
	return &cli.Command{
		Name:  "hash-password",
		Usage: "read a password on stdin and print its argon2id hash (for password_hash settings)",
		Action: func(c *cli.Context) error {
			pw, err := readPassword(c.App.Reader, c.App.ErrWriter)
			if err != nil {
				return err
			}
			h, err := secret.Hash(pw)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.App.Writer, h)
			return nil
		},
	}
}

// readPassword reads a password: from a terminal without echo (twice, to
// confirm), otherwise the first line of stdin.
func readPassword(r io.Reader, prompt io.Writer) (string, error) {
	if f, ok := r.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(prompt, "Password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		fmt.Fprint(prompt, "Again: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", errors.New("the passwords differ")
		}
		if len(a) == 0 {
			return "", errors.New("empty password")
		}
		return string(a), nil
	}
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("empty password on stdin")
	}
	return line, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
