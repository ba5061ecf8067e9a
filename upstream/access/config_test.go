package access

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/upstream"
)

func TestConfigDefaults(t *testing.T) {
	c := Config{OrgID: "1a2b3c", APIKey: "k"}.WithDefaults()
	if c.BaseURL != DefaultBaseURL || c.DirectoryID != "-" || c.PageSize != 100 || c.Concurrency != 4 ||
		c.Timeout != 30*time.Second || !c.EventsEnabled() || c.Auth != AuthNone || c.Username != UsernameNickname {
		t.Errorf("defaults: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("the example configuration is refused: %v", err)
	}
	off := false
	if c := (Config{Events: &off}).WithDefaults(); c.EventsEnabled() {
		t.Error("events: false is overridden by the default")
	}
}

func TestConfigValidate(t *testing.T) {
	c := Config{
		BaseURL: "http://api.example.com", OrgID: "bad/org", DirectoryID: "a b", APIKey: "key\n",
		APIKeyExpires: "30.06.2027", Username: "login", PageSize: 101, Concurrency: 100,
		Timeout: time.Millisecond, Auth: "ldap",
	}.WithDefaults()
	err := c.Validate()
	if !errors.Is(err, upstream.ErrInvalidConfig) {
		t.Fatalf("Validate: %v", err)
	}
	for _, path := range []string{"base_url", "org_id", "directory_id", "api_key", "api_key_expires",
		"username", "page_size", "concurrency", "timeout", "auth"} {
		if !strings.Contains(err.Error(), path+": ") {
			t.Errorf("no problem reported at %s: %v", path, err)
		}
	}
	if strings.Contains(err.Error(), "key\n") {
		t.Error("the key appears in the error")
	}

	err = Config{}.WithDefaults().Validate()
	for _, path := range []string{"org_id: required", "api_key: required"} {
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("empty config: %v lacks %q", err, path)
		}
	}
	for _, ok := range []string{"https://api.atlassian.com", "http://127.0.0.1:8080", "http://localhost:9", "http://[::1]:80/base"} {
		if err := (Config{BaseURL: ok, OrgID: "o", APIKey: "k"}).WithDefaults().Validate(); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"ftp://x", "api.atlassian.com", "https://u:p@api.atlassian.com", "https://x?y=1"} {
		if err := (Config{BaseURL: bad, OrgID: "o", APIKey: "k"}).WithDefaults().Validate(); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if _, err := Open("x", Config{OrgID: "o"}, nil); !errors.Is(err, upstream.ErrInvalidConfig) {
		t.Errorf("Open with an invalid config: %v", err)
	}
}

func TestSecretsStayOut(t *testing.T) {
	c := Config{OrgID: "o", APIKey: secret.String("very-secret-key")}.WithDefaults()
	up, err := Open("org", c, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	for _, w := range up.Warnings() {
		if strings.Contains(w, "very-secret-key") {
			t.Error("warning reveals the key")
		}
	}
	if up.Type() != "access" {
		t.Errorf("Type = %q", up.Type())
	}
	if _, ok := up.CredentialExpiry(); ok {
		t.Error("an expiry without api_key_expires")
	}
}
