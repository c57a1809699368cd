#!/usr/bin/env bash
# demo.sh - run Baton on the bundled config/ in a temporary directory and
# show it working: several agencies report, intake logs every report, the
# router turns them into tasks for the units responsible, progress and
# completion reports move the tasks, the deadline daemon reminds, declares
# overdue and escalates, and finds one unit's drill situation report
# missing, baton-notify delivers every alert (the office feed,
# printed live by `batonctl watch`; email, to a local SMTP sink; webhooks,
# to a local receiver that checks their signatures), and everything stops
# cleanly.
#
# So that deadlines pass while you watch, the demo runs the bundled rules
# with every hour read as a second (a day as 24 seconds): the critical
# incident's 24h deadline passes 24 seconds after it is reported.
#
# usage: tools/demo.sh [BUILD_DIR]     (make demo runs it)
set -euo pipefail

# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$here/build}" && pwd)
intake="$build/daemons/intake/baton-intake"
router="$build/daemons/router/baton-router"
deadline="$build/daemons/deadline/baton-deadline"
notify="$build/daemons/notify/baton-notify"
ctl="$build/tools/batonctl/batonctl"

work=$(mktemp -d "${TMPDIR:-/tmp}/baton-demo.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# The bundled config, moved into the temporary directory: state, sockets.
# Email goes to a local SMTP sink, webhooks to a local receiver.
port=$(free_port)
smtp_port=$(free_port)
hook_port=$(free_port)
sed -e "s|^state_dir *=.*|state_dir = $work/state|" \
    -e "s|ipc:///run/baton/|ipc://$work/|" \
    -e "s|^submit *=.*|submit = tcp://127.0.0.1:$port|" \
    -e "s|^feed *=.*|feed = ipc://$work/feed|" \
    -e "s|^smtp *=.*|smtp = smtp://127.0.0.1:$smtp_port|" \
    -e "s|^smtp_starttls *=.*|smtp_starttls = no|" \
    -e "s|^retry_min *=.*|retry_min = 1s|" \
    "$here/config/baton.conf" > "$work/baton.conf"
cp "$here/config/calendar.conf" "$work/"
sed -e "s|http://127.0.0.1:7480/|http://127.0.0.1:$hook_port/|" \
    "$here/config/agencies.conf" > "$work/agencies.conf"
sed -i -e "s|^server_key *=.*|server_key = $work/keys/server.key|" \
    -e "s|^server_public *=.*|server_public = $work/keys/server.key.pub|" \
    -e "s|^key *= *operator.key.*|key = $work/keys/duty-officer.key|" \
    "$work/baton.conf"
conf="$work/baton.conf"

say "Making CurveZMQ keys: the daemons', each reporting agency's, the duty officer's"
mkdir -m 700 "$work/keys"
(cd "$work/keys" && "$ctl" keygen --server --out server.key >/dev/null)
for a in mic hcm mps-a05 mod-cmd86 danang cpd hanoi duty-officer; do
	pub=$(cd "$work/keys" && "$ctl" keygen "$a" | sed -n 's/^key = //p')
	sed -i "/^\[agency $a\]\$/a key = $pub" "$work/agencies.conf"
done
echo "    keys in $work/keys; each public key added to agencies.conf:"
grep -A0 -B3 '^key = ' "$work/agencies.conf" | grep '^\[agency\|^key' |
	paste - - | head -3 | sed 's/^/    /'
echo "    ..."
perl -pe 'if (/^(deadline|due|reminders|escalation)\s*=/) {
	s/\b(\d+)d\b/($1 * 24) . "s"/ge; s/\b(\d+)h\b/$1s/g }' \
	"$here/config/routes.conf" > "$work/routes.conf"
# The bundled schedules' periods are quarters and halves: none ends while
# the demo runs. So the demo adds a drill of its own: for 15 seconds from
# shortly after start, three units owe a situation report, due 5 s later.
drill_from=$(( $(date +%s) + 12 ))
drill_period=$(date -u -d "@$drill_from" +%Y%m%dT%H%M%SZ)
cat >> "$work/routes.conf" <<EOF

; Added by the demo: the national drill's one situation report.
[schedule drill-sitrep]
agency = mps-a05, mod-cmd86, hcm
every = 15s
from = $(date -u -d "@$drill_from" +%Y-%m-%dT%H:%M:%SZ)
until = $(date -u -d "@$(( drill_from + 15 ))" +%Y-%m-%dT%H:%M:%SZ)
due = 5s
reminders = 3s
escalation = office@+0
category = cyber-defense
title = Situation report during the national cyberattack drill
notify = office
EOF
say "Checking the configuration and the routing rules"
"$intake" -c "$conf" --check
"$router" -c "$conf" --check
"$deadline" -c "$conf" --check
"$notify" -c "$conf" --check

say "Starting a mail sink and a webhook receiver on 127.0.0.1"
/usr/bin/python3 "$here/tools/demo-sinks.py" "$smtp_port" "$hook_port" \
	"$work/agencies.conf" &
pids+=($!)
wait_ports "$smtp_port" "$hook_port"

say "Starting the four daemons (state in $work/state)"
"$intake" -c "$conf" 2> >(sed -u 's/^/    [intake] /' >&2) &
pids+=($!)
"$router" -c "$conf" 2> >(sed -u 's/^/    [router] /' >&2) &
pids+=($!)
"$deadline" -c "$conf" 2> >(sed -u 's/^/    [deadline] /' >&2) &
pids+=($!)
# The journal channel writes one line per alert: the feed shows them.
"$notify" -c "$conf" 2> >(grep --line-buffered -v ' ALERT_ID=' |
	sed -u 's/^/    [notify] /' >&2) &
pids+=($!)
for _ in $(seq 50); do
	[ -S "$work/intake.replay" ] && [ -S "$work/router.replay" ] &&
		[ -S "$work/deadline.replay" ] && [ -S "$work/feed" ] && break
	sleep 0.1
done
# The office's view: every alert on the feed, as it is published.
"$ctl" -c "$conf" watch 2>/dev/null > >(sed -u 's/^/    [feed] /') &
pids+=($!)
sleep 0.3
start=$(date +%s)

# An agency submits over its own key: submit AGENCY [batonctl submit ...].
submit() {
	local agency=$1
	shift
	"$ctl" -c "$conf" submit --agency "$agency" \
		--key "$work/keys/$agency.key" "$@" | sed 's/^/    /'
}

say "Agencies report"
submit mic --id mic-2026-0412 --kind incident \
	--category cybersecurity --severity critical --locality HN \
	--title "DDoS and defacement attempt on the national public service portal" \
	--body "Traffic peaked at 38 Gbit/s from 12,000 sources; two front-end nodes served a defaced page for 7 minutes."
submit hcm --id hcmc-ir-0087 --kind incident \
	--category information-security --severity high --locality HCM \
	--title "Citizens' personal data offered for sale on a forum" \
	--body "A seller advertises 1.2 million records (names, ID numbers, phone numbers) said to come from a district health database."
submit mps-a05 --id mps-a05-3311 --kind incident \
	--category cybersecurity --severity high \
	--title "Phishing campaign impersonating the tax authority" \
	--body "High-tech crime: SMS and e-mail lure to a fake e-tax site harvesting banking credentials."
submit mod-cmd86 --id mod-cmd86-019 --kind incident \
	--category cyber-defense --severity medium \
	--title "Scanning of defence network perimeter from foreign infrastructure"
submit danang --id dn-2026-q3 --kind periodic \
	--category information-security --period 2026-Q3 \
	--title "Quarterly report on the four key areas, Q3 2026"
submit cpd --id cpd-ti-0201 --kind incident \
	--category toxic-information --severity medium --drill \
	--title "Drill: coordinated fake news on the national drill scenario"

say "The drill's situation reports: the public security and defence units"
echo "    report for the period $drill_period; Ho Chi Minh City does not"
submit mps-a05 --id a05-sitrep-1 --kind periodic --category cyber-defense \
	--period "$drill_period" \
	--title "Drill situation: phishing wave contained, 3 hosts isolated"
submit mod-cmd86 --id cmd86-sitrep-1 --kind periodic \
	--category cyber-defense --period "$drill_period" \
	--title "Drill situation: perimeter holding, no lateral movement"

say "An agency resends a report it already sent (safe: same answer)"
submit mic --id mic-2026-0412 --kind incident \
	--category cybersecurity --severity critical \
	--title "DDoS and defacement attempt on the national public service portal"

say "Hanoi's key tries to report in the ministry's name: forbidden, nothing stored"
submit hanoi --agency mic --id hn-spoof-1 --kind incident \
	--category cybersecurity --severity low --title "Spoofed report" || true

say "A malformed report is refused, and nothing is stored"
submit hanoi --id hn-bad-1 --kind incident \
	--category cybersecurity --title "No severity given" || true

say "batonctl log: the intake log, in order"
"$ctl" -c "$conf" log

sleep 0.5	# the router applies intake's events as they are published
say "batonctl queue: the router made tasks for the units responsible"
# queue prints each task on two lines: its state, then its title.
"$ctl" -c "$conf" queue | awk '/^P-/ { skip = 2 } skip-- <= 0' || true
echo "    (and the obligations of the periodic reports every agency owes:)"
"$ctl" -c "$conf" queue | grep '^P-' | head -4 | sed 's/^/    /'

say "The public security cyber unit reports progress on T-1, the defence"
echo "    ministry completes T-4, and Hanoi reports on a task it does not hold"
submit mps-a05 --id a05-upd-1 --kind progress --category cybersecurity \
	--task T-1 --title "Attack traffic filtered upstream; portal back online"
submit mod-cmd86 --id cmd86-done-19 --kind completion \
	--category cyber-defense --task T-4 \
	--title "Scanning sources blocked at the perimeter; no intrusion found"
submit hanoi --id hn-2026-551 --kind progress --category cybersecurity \
	--task T-1 --title "We are looking into it too"
sleep 0.5

say "batonctl task T-1: the task and its whole history"
"$ctl" -c "$conf" task T-1

say "batonctl timers --task T-1: what baton-deadline will send, and when"
"$ctl" -c "$conf" timers --task T-1 | sed 's/^/    /'

say "Waiting for T-1's deadline (24s after it was reported), and T-2's"
echo "    Reminders, the overdue alerts and the escalations show up live above"
echo "    as baton-deadline fires them. T-4 was completed: nothing fires for it."
echo "    Ho Chi Minh City's drill situation report falls due too: missing."
until [ $(( $(date +%s) - start )) -ge 40 ]; do sleep 1; done

say "batonctl alerts: what fired"
"$ctl" -c "$conf" alerts | sed 's/^/    /'

say "batonctl queue: the open tasks now, the missing situation report too"
"$ctl" -c "$conf" queue |
	awk '/^P-(quarterly|drill-review)/ { skip = 2 } skip-- <= 0' |
	sed 's/^/    /' || true
echo "    (and the obligations of the bundled schedules, not yet due)"

say "batonctl deliveries --alert T-1/1/overdue: who was told, and how"
"$ctl" -c "$conf" deliveries --alert T-1/1/overdue | sed 's/^/    /'
echo "    and over all alerts:"
"$ctl" -c "$conf" deliveries | tail -1 | sed 's/^/    /'

say "batonctl verify: the hash chain"
"$ctl" -c "$conf" verify

say "batonctl status"
"$ctl" -c "$conf" status

say "Stopping"
kill -TERM "${pids[@]}"
wait "${pids[@]}" 2>/dev/null || true
pids=()
echo "    all stopped; demo state removed"
