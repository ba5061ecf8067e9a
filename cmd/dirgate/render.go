package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dirgate/dirgate/cache"
	"github.com/dirgate/dirgate/restfront/admin"
)

func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

// when renders a time for people: "2026-11-22 06:40:12 UTC (3m ago)".
func when(t time.Time, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	rel := "ago"
	if d < 0 {
		d, rel = -d, "from now"
	}
	return fmt.Sprintf("%s (%s %s)", t.UTC().Format("2006-01-02 15:04:05 UTC"), roughly(d), rel)
}

func roughly(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

func counts(r *cache.ApplyResult) string {
	if r == nil {
		return ""
	}
	return fmt.Sprintf("users +%d ~%d -%d, groups +%d ~%d -%d", r.UsersAdded, r.UsersUpdated, r.UsersDeleted,
		r.GroupsAdded, r.GroupsUpdated, r.GroupsDeleted)
}

func renderRun(w io.Writer, label string, r *cache.SyncRun, now time.Time) {
	if r == nil {
		return
	}
	line := fmt.Sprintf("  %-17s %s, took %s", label+":", when(r.Started, now), r.Duration.Round(time.Millisecond))
	if r.Result != nil {
		line += ", " + counts(r.Result)
	}
	if r.Error != "" {
		line += "\n    error: " + r.Error
	}
	fmt.Fprintln(w, line)
}

func renderStatus(w io.Writer, st *admin.Status, now time.Time) {
	l := st.Upstreams
	tw := table(w)
	fmt.Fprintln(tw, "UPSTREAM\tTYPE\tSTATE\tUSERS\tGROUPS\tLAST SUCCESS\tNEXT RUN")
	for _, s := range l {
		next := "-"
		if !s.NextRun.IsZero() {
			next = when(s.NextRun, now)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\n", s.Upstream, s.Type, s.State, s.Users, s.Groups, when(s.LastSuccess, now), next)
	}
	tw.Flush()
	for _, s := range l {
		if s.LastFull == nil && s.LastIncremental == nil && s.LastError == "" && len(s.Warnings) == 0 && s.CredentialExpires.IsZero() {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", s.Upstream)
		if !s.CredentialExpires.IsZero() {
			fmt.Fprintf(w, "  %-17s %s\n", "credential:", "expires "+when(s.CredentialExpires, now))
		}
		renderRun(w, "last full", s.LastFull, now)
		renderRun(w, "last incremental", s.LastIncremental, now)
		if s.State == cache.StateError {
			fmt.Fprintf(w, "  %-17s %s\n", "error:", s.LastError)
			if s.LastFailure != nil {
				fmt.Fprintf(w, "  %-17s %s (%d in a row)\n", "failed at:", when(s.LastFailure.Started, now), max(s.ConsecutiveFailures, 1))
			}
			if !s.Synced {
				fmt.Fprintf(w, "  %-17s %s\n", "data:", "none yet")
			} else {
				fmt.Fprintf(w, "  %-17s %s\n", "data:", "the last good sync's, from "+when(s.LastSuccess, now))
			}
		}
		for _, warn := range s.Warnings {
			fmt.Fprintf(w, "  %-17s %s\n", "warning:", warn)
		}
		for _, c := range s.Collisions {
			fmt.Fprintf(w, "  %-17s %s %q: kept %s, skipped %s\n", "collision:", c.Kind, c.Name, c.Kept, strings.Join(c.Skipped, ", "))
		}
	}
	if t := st.LDAPTLS; t != nil {
		fmt.Fprintf(w, "\nLDAP TLS certificate:\n")
		fmt.Fprintf(w, "  %-17s %s\n", "sha256:", t.SHA256)
		fmt.Fprintf(w, "  %-17s %s\n", "subject:", t.Subject)
		fmt.Fprintf(w, "  %-17s %s\n", "expires:", when(t.NotAfter, now))
		if t.SelfSigned {
			fmt.Fprintf(w, "  %-17s %s\n", "trust:", "self-signed by dirgate's CA; clients must trust "+t.CAFile)
		}
	}
}

func renderSync(w io.Writer, l []admin.SyncOutcome) {
	tw := table(w)
	fmt.Fprintln(tw, "UPSTREAM\tKIND\tRESULT\tTOOK\tCHANGES\tTOTAL")
	for _, o := range l {
		kind := "incremental"
		if o.Run.Full {
			kind = "full"
		}
		if o.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\tfailed\t%s\t\t\n", o.Upstream, kind, o.Run.Duration.Round(time.Millisecond))
			continue
		}
		total := ""
		if r := o.Run.Result; r != nil {
			total = fmt.Sprintf("%d users, %d groups", r.Users, r.Groups)
		}
		fmt.Fprintf(tw, "%s\t%s\tok\t%s\t%s\t%s\n", o.Upstream, kind, o.Run.Duration.Round(time.Millisecond), counts(o.Run.Result), total)
	}
	tw.Flush()
	for _, o := range l {
		if o.Error != "" {
			fmt.Fprintf(w, "\n%s: %s\n", o.Upstream, o.Error)
		}
	}
}

func renderStats(w io.Writer, s *admin.Stats) {
	tw := table(w)
	fmt.Fprintf(tw, "users\t%d\n", s.Users)
	fmt.Fprintf(tw, "groups\t%d\n", s.Groups)
	fmt.Fprintf(tw, "memberships\t%d\n", s.Memberships)
	fmt.Fprintf(tw, "disk\t%.1f MiB\n", float64(s.DiskBytes)/(1<<20))
	fmt.Fprintf(tw, "event token\t%s\n", s.Journal.Head)
	tw.Flush()
	fmt.Fprintln(w)
	tw = table(w)
	fmt.Fprintln(tw, "UPSTREAM\tTYPE\tUSERS\tGROUPS\tMEMBERSHIPS\tCOLLISIONS")
	for _, u := range s.Upstreams {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\n", u.Name, u.Type, u.Users, u.Groups, u.Memberships, u.Collisions)
	}
	tw.Flush()
	for _, c := range s.Cycles {
		fmt.Fprintf(w, "\nnesting cycle: %s\n", strings.Join(c, " → "))
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func renderUsers(w io.Writer, l []admin.UserSummary) {
	tw := table(w)
	fmt.Fprintln(tw, "USERNAME\tDISPLAY NAME\tEMAIL\tACTIVE\tUPSTREAM")
	for _, u := range l {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Username, u.DisplayName, u.Email, yesNo(u.Active), u.Upstream)
	}
	tw.Flush()
}

func renderGroups(w io.Writer, l []admin.GroupSummary) {
	tw := table(w)
	fmt.Fprintln(tw, "GROUP\tDESCRIPTION\tUSERS\tGROUPS\tUPSTREAMS")
	for _, g := range l {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", g.Name, g.Description, g.DirectUsers, g.DirectGroups, strings.Join(g.Upstreams, ","))
	}
	tw.Flush()
}

func list(l []string) string {
	if len(l) == 0 {
		return "-"
	}
	return strings.Join(l, ", ")
}

func renderUser(w io.Writer, d *admin.UserDetail) {
	tw := table(w)
	fmt.Fprintf(tw, "username\t%s\n", d.Username)
	fmt.Fprintf(tw, "dn\t%s\n", d.DN)
	fmt.Fprintf(tw, "upstream\t%s\n", d.Upstream)
	if len(d.Shadowed) > 0 {
		fmt.Fprintf(tw, "shadows\t%s\n", strings.Join(d.Shadowed, ", "))
	}
	fmt.Fprintf(tw, "display name\t%s\n", d.DisplayName)
	fmt.Fprintf(tw, "first name\t%s\n", d.FirstName)
	fmt.Fprintf(tw, "last name\t%s\n", d.LastName)
	fmt.Fprintf(tw, "email\t%s\n", d.Email)
	fmt.Fprintf(tw, "active\t%s\n", yesNo(d.Active))
	fmt.Fprintf(tw, "external id\t%s\n", d.ExternalID)
	fmt.Fprintf(tw, "key\t%s\n", d.Key)
	if !d.Created.IsZero() {
		fmt.Fprintf(tw, "created\t%s\n", d.Created.UTC().Format(time.RFC3339))
	}
	if !d.Updated.IsZero() {
		fmt.Fprintf(tw, "updated\t%s\n", d.Updated.UTC().Format(time.RFC3339))
	}
	for k, v := range d.Attributes {
		fmt.Fprintf(tw, "attribute %s\t%s\n", k, strings.Join(v, ", "))
	}
	fmt.Fprintf(tw, "direct groups\t%s\n", list(d.DirectGroups))
	fmt.Fprintf(tw, "nested groups\t%s\n", list(d.NestedGroups))
	tw.Flush()
}

func renderGroup(w io.Writer, d *admin.GroupDetail) {
	tw := table(w)
	fmt.Fprintf(tw, "group\t%s\n", d.Name)
	fmt.Fprintf(tw, "dn\t%s\n", d.DN)
	fmt.Fprintf(tw, "upstreams\t%s\n", strings.Join(d.Upstreams, ", "))
	fmt.Fprintf(tw, "description\t%s\n", d.Description)
	fmt.Fprintf(tw, "direct users\t%s\n", list(d.DirectUsers))
	fmt.Fprintf(tw, "child groups\t%s\n", list(d.DirectGroups))
	fmt.Fprintf(tw, "nested users\t%d: %s\n", len(d.NestedUsers), list(d.NestedUsers))
	fmt.Fprintf(tw, "parents\t%s\n", list(d.Parents))
	fmt.Fprintf(tw, "ancestors\t%s\n", list(d.Ancestors))
	tw.Flush()
}
