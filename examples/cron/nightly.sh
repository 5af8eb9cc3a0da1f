#!/usr/bin/env bash
# Nightly audit, for cron. Quiet when the audit passes; emails the report and posts to a chat webhook
# when it warns or fails.
#
#   # m h dom mon dow  command
#   0 2 * * *  AUDITOR_MAIL_TO=risk@example.com AUDITOR_SMTP_PASSWORD=... /srv/audit/nightly.sh /srv/audit/audit.yaml
#
# Each run writes a dated folder (reports/2026-11-27T02-00/) plus reports/latest/, records its
# results in reports/history.duckdb, rewrites reports/index.html and drops runs past the retention.
#
# Environment (all optional; AUDITOR_MAIL_TO for email, AUDITOR_WEBHOOK_URL for chat):
#   AUDITOR            the auditor command              (default: auditor)
#   AUDITOR_REPORTS    the output root                  (default: reports/ beside the config)
#   AUDITOR_KEEP       retention: 90d (days) or 30 (runs) (default: 90d)
#   AUDITOR_MAIL_TO    recipients, comma-separated; no email without it
#   AUDITOR_SMTP_ARGS  extra `auditor send` options, e.g. "--smtp-host smtp.example.com --user auditor"
#   AUDITOR_SMTP_PASSWORD  read by `auditor send` itself (never on a command line)
#   AUDITOR_REPORT_URL where the reports are served, linked from the email (e.g. https://host/reports/latest/report.html)
#   AUDITOR_WEBHOOK_URL a Slack, Teams or other webhook, read by `auditor notify` itself (never on a command line)
#   AUDITOR_WEBHOOK_FORMAT slack, teams or json (default: json)
#
# Exit codes: 0 passed (or warned/failed and the email and chat message went out), 75 another run holds the lock
# (EX_TEMPFAIL: cron tries again tomorrow), otherwise the audit's or the sender's code; in those
# cases the log goes to stderr, which cron mails to the crontab's owner.
set -uo pipefail

if [ $# -ne 1 ]; then
    echo "usage: nightly.sh CONFIG" >&2
    exit 2
fi
config=$1
reports=${AUDITOR_REPORTS:-$(dirname "$config")/reports}
auditor=${AUDITOR:-auditor}
keep=${AUDITOR_KEEP:-90d}

mkdir -p "$reports" || exit 73
# One night at a time: a slow night must not overlap the next one. auditor itself would make the
# second run wait for the first (outputs.lock_timeout); flock -n gives up at once instead, so cron
# does not pile up runs behind a stuck one.
exec 9>"$reports/.nightly.lock"
if ! flock -n 9; then
    echo "nightly.sh: another audit holds $reports/.nightly.lock; not starting a second one" >&2
    exit 75
fi

log=$(mktemp "${TMPDIR:-/tmp}/auditor-nightly.XXXXXX") || exit 73
trap 'rm -f "$log"' EXIT

# --fail-on warn: exit 1 on a warning too, which is when the email goes out.
"$auditor" run "$config" --out "$reports" --history --keep "$keep" \
    --format json,html,md,junit --fail-on warn >"$log" 2>&1
code=$?

case $code in
    0) exit 0 ;;  # passed: say nothing
    1) ;;         # warned or failed: email below
    *) echo "nightly.sh: the audit could not run (exit $code):" >&2
       cat "$log" >&2
       exit "$code" ;;
esac

url_args=()
if [ -n "${AUDITOR_REPORT_URL:-}" ]; then
    url_args=(--report-url "$AUDITOR_REPORT_URL")
fi
if [ -z "${AUDITOR_MAIL_TO:-}" ] && [ -z "${AUDITOR_WEBHOOK_URL:-}" ]; then
    cat "$log" >&2  # nowhere to send it: the summary goes to cron's mail instead
    exit 1
fi
failed=0
# shellcheck disable=SC2086  # AUDITOR_SMTP_ARGS is a list of options, split on purpose
if [ -n "${AUDITOR_MAIL_TO:-}" ] && ! "$auditor" send "$reports/latest" --to "$AUDITOR_MAIL_TO" ${AUDITOR_SMTP_ARGS:-} \
        "${url_args[@]}" >>"$log" 2>&1; then
    echo "nightly.sh: the audit warned or failed and the email could not be sent:" >&2
    failed=1
fi
# The webhook URL stays in the environment: `auditor notify` reads AUDITOR_WEBHOOK_URL and never prints it.
if [ -n "${AUDITOR_WEBHOOK_URL:-}" ] && ! "$auditor" notify "$reports/latest" --format "${AUDITOR_WEBHOOK_FORMAT:-json}" \
        "${url_args[@]}" >>"$log" 2>&1; then
    echo "nightly.sh: the audit warned or failed and the chat message could not be posted:" >&2
    failed=1
fi
if [ "$failed" -ne 0 ]; then
    cat "$log" >&2
    exit 1
fi
exit 0
