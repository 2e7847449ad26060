package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"contactstore/internal/progress"
	"contactstore/store"
)

func init() {
	register(command{name: "stats", summary: "show counts, sizes, engine health, what expires when and service ratings", run: cmdStats})
}

func cmdStats(e *env, args []string) int {
	f := e.flags("stats", "--dir DIR [--json]")
	sf := addStoreFlags(f)
	asJSON := f.Bool("json", false, "print JSON")
	_, code, ok := parseArgs(f, args, func(pos []string) bool { return len(pos) > 0 || *sf.dir == "" })
	if !ok {
		return code
	}
	s, err := e.openStore(sf, nil)
	if err != nil {
		return e.exitFor(err)
	}
	defer s.Close()
	st, err := s.Stats(context.Background())
	if err != nil {
		return e.fail(err)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(st); err != nil {
			return e.fail(err)
		}
		return exitOK
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "store\t%s\n", st.StoreID)
	fmt.Fprintf(w, "contacts\t%d\n", st.Contacts)
	fmt.Fprintf(w, "customers\t%d\n", st.Customers)
	fmt.Fprintf(w, "key vault\tgeneration %d, %d shard keys, %d bucket keys\n", st.VaultGeneration, st.Shards, st.Buckets)
	fmt.Fprintf(w, "disk\t%s total (tables %s, WAL %s, vault %s)\n", bytesStr(st.Disk.Total), bytesStr(st.Disk.SST), bytesStr(st.Disk.WAL), bytesStr(uint64(st.Disk.Vault)))
	p := st.Pebble
	fmt.Fprintf(w, "engine\tL0 %d files/%d sublevels, read amp %d, %d flushes, %d compactions, debt %s, %d write stalls (%s)\n",
		p.L0Files, p.L0Sublevels, p.ReadAmp, p.Flushes, p.Compactions, bytesStr(p.CompactionDebt), p.WriteStalls, p.WriteStallTime)
	w.Flush()
	live := 0
	for _, b := range st.Backups {
		if b.State == "live" {
			live++
		}
	}
	fmt.Fprintf(e.stdout, "backups    %d live of %d (contactstore backups lists them with their terms)\n", live, len(st.Backups))
	fmt.Fprintln(e.stdout, "\nRetention:")
	writeRetention(e.stdout, "  ", st.Retention)
	if len(st.Ratings) > 0 {
		fmt.Fprintln(e.stdout, "\nService ratings by channel and month (1-10):")
		w = tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(w, "month\tchannel\tcontacts\trated\taverage\t")
		for _, r := range st.Ratings {
			ch := r.Channel
			if ch == "" {
				ch = "-"
			}
			avg := "-"
			if r.Rated > 0 {
				avg = fmt.Sprintf("%.2f", r.Average)
			}
			fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\t\n", r.Month, ch, r.Contacts, r.Rated, avg)
		}
		w.Flush()
	}
	return exitOK
}

func bytesStr(n uint64) string { return progress.Bytes(n) }

// writeRetention prints what expires when: the policy, the days already destroyed, what is
// due, held or kept without a term, and the schedule (by month when it is long).
func writeRetention(out io.Writer, indent string, rs store.RetentionStats) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	if rs.Policy == nil {
		fmt.Fprintf(w, "%spolicy\tno policy set — contacts are kept until one is\n", indent)
	} else {
		pending := ""
		if rs.PolicyPending {
			pending = " (moving stored contacts to their new days not finished; the next expire finishes it)"
		}
		fmt.Fprintf(w, "%spolicy\tversion %d: %s%s\n", indent, rs.PolicyVersion, policySummary(rs.Policy), pending)
	}
	if rs.ExpiredThrough != "" {
		fmt.Fprintf(w, "%sexpired through\t%s (the keys of every day up to it are destroyed)\n", indent, rs.ExpiredThrough)
	} else {
		fmt.Fprintf(w, "%sexpired through\t- (no expiry day destroyed yet)\n", indent)
	}
	var scheduled int64
	for _, d := range rs.Schedule {
		scheduled += d.Contacts
	}
	fmt.Fprintf(w, "%sscheduled\t%s on %s\n", indent, plural(scheduled, "contact"), plural(int64(len(rs.Schedule)), "day"))
	fmt.Fprintf(w, "%sdue\t%s past their day, unreadable already, waiting for the expirer (or contactstore expire)\n", indent, plural(rs.Due, "contact"))
	fmt.Fprintf(w, "%sheld\t%s of %s under a legal hold, kept past their term\n", indent, plural(rs.Held, "contact"), plural(int64(rs.HeldCustomers), "customer"))
	if rs.NoExpiry > 0 || rs.Policy == nil {
		fmt.Fprintf(w, "%sno expiry\t%s without a term (stored before any policy was set)\n", indent, plural(rs.NoExpiry, "contact"))
	}
	w.Flush()
	lines := scheduleLines(rs.Schedule)
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(out, "%sExpiry schedule (UTC; contacts become unreadable at their exact term, their day's key is destroyed when the day ends):\n", indent)
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, l := range lines {
		fmt.Fprintf(w, "%s  %s\n", indent, l)
	}
	w.Flush()
}

const (
	scheduleDays   = 14 // a schedule of up to this many days is shown day by day
	scheduleMonths = 24 // else month by month, up to this many months, then the rest in one line
)

// scheduleLines renders an expiry schedule as tab-separated lines: day by day when it is
// short, else month by month ("2027-01  310 contacts  on 28 days, first 2027-01-02").
func scheduleLines(sched []store.ExpiryDay) []string {
	var lines []string
	if len(sched) <= scheduleDays {
		for _, d := range sched {
			lines = append(lines, fmt.Sprintf("%s\t%s", d.Date, plural(d.Contacts, "contact")))
		}
		return lines
	}
	type month struct {
		name        string
		contacts    int64
		days        int
		first, last string
	}
	var months []month
	for _, d := range sched {
		m := d.Date[:7]
		if len(months) == 0 || months[len(months)-1].name != m {
			months = append(months, month{name: m, first: d.Date})
		}
		cur := &months[len(months)-1]
		cur.contacts += d.Contacts
		cur.days++
		cur.last = d.Date
	}
	for i, m := range months {
		if i == scheduleMonths && len(months) > scheduleMonths+1 {
			rest := month{first: m.first}
			for _, r := range months[i:] {
				rest.contacts += r.contacts
				rest.days += r.days
				rest.last = r.last
			}
			lines = append(lines, fmt.Sprintf("later\t%s\ton %s, %s to %s", plural(rest.contacts, "contact"), plural(int64(rest.days), "day"), rest.first, rest.last))
			break
		}
		lines = append(lines, fmt.Sprintf("%s\t%s\ton %s, first %s", m.name, plural(m.contacts, "contact"), plural(int64(m.days), "day"), m.first))
	}
	return lines
}

// plural says "1 contact", "2 contacts".
func plural(n int64, one string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %ss", n, one)
}
