package jiracloud

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dirgate/dirgate/upstream"
)

func TestDefaults(t *testing.T) {
	c := Config{URL: "https://acme.atlassian.net/", Email: "a@acme.example", APIToken: "t"}.WithDefaults()
	if c.URL != "https://acme.atlassian.net" || len(c.AccountTypes) != 1 || c.AccountTypes[0] != AccountAtlassian ||
		c.UsernameFrom != UsernameFromEmail || c.IncludeInactive == nil || !*c.IncludeInactive || c.PageSize != 1000 ||
		c.Concurrency != 4 || c.Timeout != 30*time.Second || c.Auth != AuthNone {
		t.Fatalf("%+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprintf("%v %+v %#v", c, c, c); strings.Contains(s, `APIToken:t `) || strings.Contains(s, `"t"`) {
		t.Errorf("the token prints: %s", s)
	}
}

func TestValidate(t *testing.T) {
	ok := Config{URL: "https://acme.atlassian.net", Email: "a@acme.example", APIToken: "t"}
	for _, tc := range []struct {
		change func(*Config)
		path   string
		msg    string
	}{
		{func(c *Config) { c.URL = "" }, "url", "required"},
		{func(c *Config) { c.URL = "ftp://acme.atlassian.net" }, "url", "scheme must be https"},
		{func(c *Config) { c.URL = "http://acme.atlassian.net" }, "url", "must be https://"},
		{func(c *Config) { c.URL = "https://u:p@acme.atlassian.net" }, "url", "credentials"},
		{func(c *Config) { c.URL = "https://acme.atlassian.net/jira" }, "url", "/ex/jira/<cloudId>"},
		{func(c *Config) { c.URL = "https://api.atlassian.com" }, "url", "needs the path /ex/jira/<cloudId>"},
		{func(c *Config) { c.URL = "https://api.atlassian.com/ex/jira/" }, "url", "/ex/jira/<cloudId>"},
		{func(c *Config) { c.URL = "https://acme.atlassian.net?x=1" }, "url", "query"},
		{func(c *Config) { c.Email = "" }, "email", "required"},
		{func(c *Config) { c.Email = "admin" }, "email", "not an e-mail address"},
		{func(c *Config) { c.APIToken = "" }, "api_token", "required"},
		{func(c *Config) { c.APITokenExpires = "30.06.2027" }, "api_token_expires", "expected a date"},
		{func(c *Config) { c.AccountTypes = []string{"atlassian", "robot"} }, "account_types[1]", `not "robot"`},
		{func(c *Config) { c.AccountTypes = []string{"app", "app"} }, "account_types[1]", "listed twice"},
		{func(c *Config) { c.UsernameFrom = "name" }, "username_from", "must be email or account_id"},
		{func(c *Config) { c.PageSize = 1001 }, "page_size", "between 1 and 1000"},
		{func(c *Config) { c.PageSize = -1 }, "page_size", "between 1 and 1000"},
		{func(c *Config) { c.Concurrency = 33 }, "concurrency", "between 1 and 32"},
		{func(c *Config) { c.Timeout = 10 * time.Millisecond }, "timeout", "between 1s and 10m"},
		{func(c *Config) { c.Auth = "password" }, "auth", "must be none, api_token or local"},
	} {
		c := ok
		tc.change(&c)
		err := c.WithDefaults().Validate()
		var fe *upstream.FieldError
		if !errors.Is(err, upstream.ErrInvalidConfig) || !errors.As(err, &fe) || fe.Path != tc.path || !strings.Contains(fe.Error(), tc.msg) {
			t.Errorf("%s: %v", tc.path, err)
		}
		if _, err := Open("x", c, nil); err == nil {
			t.Errorf("%s: Open accepted it", tc.path)
		}
	}
	// Every problem at once.
	err := Config{Auth: "x", PageSize: 5000}.WithDefaults().Validate()
	for _, p := range []string{"url:", "email:", "api_token:", "page_size:", "auth:"} {
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%v lacks %s", err, p)
		}
	}
	for _, u := range []string{"https://api.atlassian.com/ex/jira/0f1e2d3c-aaaa", "http://127.0.0.1:8080", "http://localhost:1/",
		"https://acme.atlassian.net/"} {
		c := ok
		c.URL = u
		if err := c.WithDefaults().Validate(); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	c := ok
	c.APITokenExpires, c.AccountTypes, c.UsernameFrom, c.Auth = "2027-06-30", []string{"app", "customer"}, "account_id", "local"
	if err := c.WithDefaults().Validate(); err != nil {
		t.Error(err)
	}
}
