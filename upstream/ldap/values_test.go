package ldap

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dirgate/dirgate/internal/secret"
	"github.com/dirgate/dirgate/upstream"
)

func TestParseGeneralizedTime(t *testing.T) {
	utc := func(y, mo, d, h, mi, s, ns int) time.Time {
		return time.Date(y, time.Month(mo), d, h, mi, s, ns, time.UTC)
	}
	good := []struct {
		in   string
		want time.Time
	}{
		{"20261122063812Z", utc(2026, 11, 22, 6, 38, 12, 0)},
		{"20261122063812.0Z", utc(2026, 11, 22, 6, 38, 12, 0)},     // Active Directory
		{"20261122063812.25Z", utc(2026, 11, 22, 6, 38, 12, 25e7)}, // fraction of a second
		{"202611220638Z", utc(2026, 11, 22, 6, 38, 0, 0)},
		{"2026112206Z", utc(2026, 11, 22, 6, 0, 0, 0)},
		{"2026112206,5Z", utc(2026, 11, 22, 6, 30, 0, 0)}, // half an hour
		{"20261122063812+0130", utc(2026, 11, 22, 5, 8, 12, 0)},
		{"20261122063812-0100", utc(2026, 11, 22, 7, 38, 12, 0)},
		{"20161231235960Z", utc(2017, 1, 1, 0, 0, 0, 0)}, // leap second
	}
	for _, tt := range good {
		got, err := parseGeneralizedTime(tt.in)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("parseGeneralizedTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "2026", "20261122063812", "20261122063812z", "20261322063812Z", "20260230120000Z",
		"20261122243812Z", "20261122063812.Z", "20261122063812+01", "2026112206381Z", "x0261122063812Z", "20261122063812ZZ"} {
		if got, err := parseGeneralizedTime(bad); err == nil {
			t.Errorf("parseGeneralizedTime(%q) = %v, want an error", bad, got)
		}
	}
}

func TestFormatGUID(t *testing.T) {
	// The documented example: the bytes of {00112233-4455-6677-8899-aabbccddeeff}.
	b := []byte{0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}
	if got, ok := formatGUID(b); !ok || got != "00112233-4455-6677-8899-aabbccddeeff" {
		t.Errorf("formatGUID = %q, %v", got, ok)
	}
	if _, ok := formatGUID(b[:15]); ok {
		t.Error("15 bytes accepted")
	}
}

func TestParseRange(t *testing.T) {
	tests := []struct {
		in         string
		base       string
		low, high  int
		last, isOK bool
	}{
		{"member;range=0-1499", "member", 0, 1499, false, true},
		{"member;range=1500-*", "member", 1500, 0, true, true},
		{"Member;Range=3000-4499", "Member", 3000, 4499, false, true},
		{"member;lang-en;range=0-9", "member;lang-en", 0, 9, false, true},
		{"member", "", 0, 0, false, false},
		{"member;range=a-9", "", 0, 0, false, false},
		{"member;range=10-9", "", 0, 0, false, false},
		{"range=0-9", "", 0, 0, false, false},
	}
	for _, tt := range tests {
		base, low, high, last, ok := parseRange(tt.in)
		if base != tt.base || low != tt.low || high != tt.high || last != tt.last || ok != tt.isOK {
			t.Errorf("parseRange(%q) = %q %d %d %v %v", tt.in, base, low, high, last, ok)
		}
	}
}

func validConfig() Config {
	return Config{
		URLs:         []string{"ldap://127.0.0.1:389"},
		BindDN:       "cn=admin,dc=example,dc=com",
		BindPassword: secret.String("secret"),
		UserBase:     "ou=people,dc=example,dc=com",
		GroupBase:    "ou=groups,dc=example,dc=com",
	}
}

func TestConfigValidate(t *testing.T) {
	if err := validConfig().WithDefaults().Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	c := validConfig()
	c.URLs = []string{"http://x", "ldaps://"}
	c.UserFilter = "(uid=a"
	c.GroupFilter = "cn=x"
	c.Attributes.Username = "bad name"
	c.Attributes.Member = "member;range=0-9"
	c.Attributes.Email = "mail;lang-en" // options are fine
	c.Incremental = "sometimes"
	c.PageSize = -1
	err := c.WithDefaults().Validate()
	if !errors.Is(err, upstream.ErrInvalidConfig) {
		t.Fatalf("got %v, want ErrInvalidConfig", err)
	}
	msg := err.Error()
	for _, want := range []string{"urls[0]", "urls[1]", "user_filter", "group_filter", "attributes.username", "attributes.member", "incremental", "page_size"} {
		if !strings.Contains(msg, want+":") {
			t.Errorf("no problem reported at %s in:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "attributes.email") {
		t.Errorf("attribute options rejected:\n%s", msg)
	}
	// Problems come in a stable order.
	for range 10 {
		if again := c.WithDefaults().Validate().Error(); again != msg {
			t.Fatalf("order changed:\n%s\n%s", msg, again)
		}
	}

	ad := validConfig()
	ad.Incremental = IncrementalUSNChanged
	if got := ad.WithDefaults().Attributes.ExternalID; got != "objectGUID" {
		t.Errorf("uSNChanged: external_id defaults to %q, want objectGUID", got)
	}
	if got := validConfig().WithDefaults().Attributes.ExternalID; got != "entryUUID" {
		t.Errorf("external_id defaults to %q, want entryUUID", got)
	}
}

func TestOpenInvalid(t *testing.T) {
	c := validConfig()
	c.UserBase = ""
	if _, err := Open("x", c, nil); !errors.Is(err, upstream.ErrInvalidConfig) {
		t.Errorf("missing user_base: %v", err)
	}
	c = validConfig()
	c.TLS.CAFile = "/nonexistent/ca.pem"
	_, err := Open("x", c, nil)
	if !errors.Is(err, upstream.ErrInvalidConfig) || !strings.Contains(err.Error(), "tls.ca_file") {
		t.Errorf("missing CA file: %v", err)
	}
}
