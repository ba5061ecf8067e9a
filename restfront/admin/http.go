package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// SocketName is the admin socket's file name inside data_dir.
const SocketName = "dirgate.sock"

// SocketPath returns the admin socket of a data directory.
func SocketPath(dataDir string) string { return filepath.Join(dataDir, SocketName) }

// Handler serves svc over HTTP (on the unix socket; see Listen), and
// metrics, when not nil, at /metrics.
func Handler(svc Service, metrics http.Handler, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	if metrics != nil {
		mux.Handle("GET /metrics", metrics)
	}
	// Profiles, for diagnosing a running server; the socket's file mode
	// keeps them to its owner.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	reply := func(w http.ResponseWriter, v any, err error) {
		if err != nil {
			writeError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		v, err := svc.Status(r.Context())
		reply(w, v, err)
	})
	mux.HandleFunc("GET /v1/stats", func(w http.ResponseWriter, r *http.Request) {
		v, err := svc.Stats(r.Context())
		reply(w, v, err)
	})
	mux.HandleFunc("GET /v1/users", func(w http.ResponseWriter, r *http.Request) {
		v, err := svc.Users(r.Context(), r.URL.Query().Get("upstream"))
		reply(w, v, err)
	})
	mux.HandleFunc("GET /v1/groups", func(w http.ResponseWriter, r *http.Request) {
		v, err := svc.Groups(r.Context())
		reply(w, v, err)
	})
	mux.HandleFunc("GET /v1/user", func(w http.ResponseWriter, r *http.Request) {
		v, err := svc.User(r.Context(), r.URL.Query().Get("name"))
		reply(w, v, err)
	})
	mux.HandleFunc("GET /v1/group", func(w http.ResponseWriter, r *http.Request) {
		v, err := svc.Group(r.Context(), r.URL.Query().Get("name"))
		reply(w, v, err)
	})
	mux.HandleFunc("GET /v1/export", func(w http.ResponseWriter, r *http.Request) {
		format := r.URL.Query().Get("format")
		if format != "" && format != "json" && format != "ldif" {
			writeError(w, fmt.Errorf("%w: unknown export format %q (json or ldif)", ErrBadRequest, format))
			return
		}
		bw := bufio.NewWriterSize(w, 64<<10)
		if err := svc.Export(r.Context(), format, bw); err != nil {
			// Headers are gone; end the body so the client sees a truncated export.
			logger.Error("export failed", "err", err)
			panic(http.ErrAbortHandler)
		}
		_ = bw.Flush()
	})
	mux.HandleFunc("POST /v1/sync", func(w http.ResponseWriter, r *http.Request) {
		var req SyncRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
			writeError(w, fmt.Errorf("%w: %v", ErrBadRequest, err))
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(w)
		flusher, _ := w.(http.Flusher)
		var last time.Time
		progress := func(p Progress) {
			if time.Since(last) < 200*time.Millisecond {
				return
			}
			last = time.Now()
			_ = enc.Encode(syncLine{Progress: &p})
			if flusher != nil {
				flusher.Flush()
			}
		}
		out, err := svc.Sync(r.Context(), req, progress)
		line := syncLine{Outcomes: out}
		if err != nil {
			line.Error, line.NotFound = err.Error(), errors.Is(err, ErrNotFound)
		}
		_ = enc.Encode(line)
	})
	return mux
}

type syncLine struct {
	Progress *Progress     `json:"progress,omitempty"`
	Outcomes []SyncOutcome `json:"outcomes,omitempty"`
	Error    string        `json:"error,omitempty"`
	NotFound bool          `json:"not_found,omitempty"`
}

type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, ErrBadRequest):
		code = http.StatusBadRequest
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(errorBody{Error: err.Error()})
}

// Listen creates the admin socket in dataDir, readable and writable by the
// owner only: the file mode is the access control. A stale socket left by a
// crashed process is replaced; a live one is an error.
func Listen(dataDir string) (net.Listener, error) {
	path := SocketPath(dataDir)
	if len(path) > 104 {
		return nil, fmt.Errorf("admin socket path %s is longer than unix sockets allow; use a shorter data_dir", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("admin socket %s: another dirgate serve is running", path)
	}
	_ = os.Remove(path)
	old := umask(0o177)
	l, err := net.Listen("unix", path)
	umask(old)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	return l, nil
}

// Client asks a running serve process.
type Client struct {
	http *http.Client
}

var _ Service = (*Client)(nil)

// Dial returns a client for the serve process of dataDir, or an error
// wrapping ErrNoServer when none is running.
func Dial(dataDir string) (*Client, error) {
	path := SocketPath(dataDir)
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoServer, err)
	}
	c.Close()
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	return &Client{http: &http.Client{Transport: tr}}, nil
}

// ErrNoServer means no serve process answers on the socket.
var ErrNoServer = errors.New("no dirgate serve running")

func (c *Client) get(ctx context.Context, path string, q url.Values, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://dirgate"+path+"?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	defer resp.Body.Close()
	if err := checkResponse(resp); err != nil {
		return err
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func checkResponse(resp *http.Response) error {
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	var e errorBody
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&e)
	msg := e.Error
	if msg == "" {
		msg = resp.Status
	}
	switch resp.StatusCode {
	case http.StatusNotFound:
		return &remoteError{msg: msg, is: ErrNotFound}
	case http.StatusBadRequest:
		return &remoteError{msg: msg, is: ErrBadRequest}
	}
	return errors.New(msg)
}

// remoteError carries the server's message and its sentinel.
type remoteError struct {
	msg string
	is  error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.is }

// Status implements Service.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var v Status
	return &v, c.get(ctx, "/v1/status", nil, &v)
}

// Stats implements Service.
func (c *Client) Stats(ctx context.Context) (*Stats, error) {
	var v Stats
	return &v, c.get(ctx, "/v1/stats", nil, &v)
}

// Users implements Service.
func (c *Client) Users(ctx context.Context, up string) ([]UserSummary, error) {
	var v []UserSummary
	return v, c.get(ctx, "/v1/users", url.Values{"upstream": {up}}, &v)
}

// Groups implements Service.
func (c *Client) Groups(ctx context.Context) ([]GroupSummary, error) {
	var v []GroupSummary
	return v, c.get(ctx, "/v1/groups", nil, &v)
}

// User implements Service.
func (c *Client) User(ctx context.Context, name string) (*UserDetail, error) {
	var v UserDetail
	if err := c.get(ctx, "/v1/user", url.Values{"name": {name}}, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// Group implements Service.
func (c *Client) Group(ctx context.Context, name string) (*GroupDetail, error) {
	var v GroupDetail
	if err := c.get(ctx, "/v1/group", url.Values{"name": {name}}, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// Export implements Service.
func (c *Client) Export(ctx context.Context, format string, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://dirgate/v1/export?"+url.Values{"format": {format}}.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	defer resp.Body.Close()
	if err := checkResponse(resp); err != nil {
		return err
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("export interrupted: %w", err)
	}
	return nil
}

// Sync implements Service.
func (c *Client) Sync(ctx context.Context, sr SyncRequest, progress func(Progress)) ([]SyncOutcome, error) {
	body, _ := json.Marshal(sr)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://dirgate/v1/sync", bytesReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	defer resp.Body.Close()
	if err := checkResponse(resp); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var line syncLine
		if err := dec.Decode(&line); err != nil {
			return nil, fmt.Errorf("sync: the server ended the answer early: %w", err)
		}
		if line.Progress != nil {
			if progress != nil {
				progress(*line.Progress)
			}
			continue
		}
		if line.Error != "" {
			if line.NotFound {
				return line.Outcomes, &remoteError{msg: line.Error, is: ErrNotFound}
			}
			return line.Outcomes, errors.New(line.Error)
		}
		return line.Outcomes, nil
	}
}
