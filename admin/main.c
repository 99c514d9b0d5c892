/* mqadmin: the command table and the global options. */
#include "cli.h"
#include "cmds.h"
#include "cmdtab.h"
#include "crl.h"
#include "pkidir.h"
#include "fleet.h"
#include "store.h"
#include "wait.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MQCERT_VERSION
#define MQCERT_VERSION "unknown"
#endif

static const struct command commands[] = {
	/* Opens DIR (cmdtab_pki) after its --ca-cert checks, so that a refused
	 * CA creates nothing; a failed run undoes its files under the lock. */
	{"init", NULL, cmd_init, CMD_PKI_CREATE,
	 "usage: mqadmin [-d DIR] init [--cn NAME] [--key-type ec|rsa|ed25519] [--days N]\n"
	 "                            [--passphrase-file FILE] [--default | --no-default]\n"
	 "       mqadmin [-d DIR] init --ca-cert FILE --ca-key FILE [--passphrase-file FILE]\n"
	 "                            [--default | --no-default]\n",
	 "Creates DIR with a new CA: key (EC P-256 by default; rsa is 3072 bits), "
	 "self-signed certificate valid --days (default 10 years), an empty policy and an "
	 "empty CRL. With --passphrase-file the CA key is encrypted (AES-256). Refuses to "
	 "overwrite an existing CA. Run as root for a DIR outside /tmp and home directories, "
	 "it records DIR as the default of every later command in /etc/mqcert/mqadmin.conf "
	 "($MQADMIN_CONFIG), unless that file exists; --default records it in any case "
	 "(replacing the file, said on stderr), --no-default never. With --ca-cert and --ca-key "
	 "it adopts an existing CA instead (generate-CA.sh, easy-rsa, openssl): checked to be "
	 "a CA certificate (basicConstraints CA:TRUE, keyCertSign and cRLSign when keyUsage is "
	 "present), in date, with the matching key; an encrypted key needs --passphrase-file "
	 "and stays encrypted. Anything else is refused and nothing is written."},
	{"server", "issue", cmd_server_issue, CMD_PKI_WRITE,
	 "usage: mqadmin [-d DIR] server issue NAME [--san DNS:host | --san IP:addr]... [--days N]\n"
	 "                                     [--key-type ec|rsa|ed25519] [--force]\n"
	 "                                     [--broker-user USER] [--passphrase-file FILE]\n"
	 "                                     [--client | --etcd-client]\n",
	 "Issues a broker certificate (serverAuth) into DIR/servers/NAME/ with the given "
	 "subject alternative names (default: NAME as a DNS name or IPv4 address). Its "
	 "subject always differs from the CA's. --client adds clientAuth, for an etcd member "
	 "(its peers and its own JSON gateway present it as a client). --etcd-client issues a client identity for etcd's JSON "
	 "gateway instead: clientAuth only, no CN and no SAN (NAME in the OU), since etcd 3.4 "
	 "refuses a CN there once its auth is on (docs/FLEET.md). Run as root, it gives the key (mode 600) to "
	 "the user the broker runs as (--broker-user, default mosquitto) and says so on "
	 "stderr. --force replaces an existing one, keeping the old key's owner, group and "
	 "mode unless --broker-user is given."},
	{"device", "issue", cmd_device_issue, CMD_PKI_WRITE,
	 "usage: mqadmin [-d DIR] device issue NAME [--group G]... [--username U] [--days N]\n"
	 "                                     [--san DNS:name|email:addr|URI:uri]...\n"
	 "                                     [--key-type ec|rsa|ed25519 | --csr FILE]\n"
	 "                                     [--format pem|der|p12|c-header]...\n"
	 "                                     [--p12-passphrase-file FILE] [--p12-modern]\n"
	 "                                     [--passphrase-file FILE] [--force] [--wait[=SECONDS]]\n"
	 "                                     [--role device|service]\n",
	 "Issues a client certificate with CN=NAME (one OU per group) into "
	 "DIR/devices/NAME/ and records it in the policy with its serial, SHA-256 "
	 "fingerprint, validity and SANs. --san adds a subjectAltName (for plugin_opt_identity "
	 "san-dns, san-email, san-uri). With --csr the device keeps its key and mqadmin only "
	 "signs, keeping the CSR's DNS, email and URI SANs unless --san is given. --format "
	 "adds DER, PKCS#12 (phones) or a C header (microcontrollers). The name of a deleted "
	 "device is refused unless --force is given. --role service makes the "
	 "identity 'mqadmin serve' connects with: it may read renewal requests and answer "
	 "them, and is never renewed over MQTT."},
	{"device", "list", cmd_device_list, CMD_PKI_READ,
	 "usage: mqadmin [-d DIR] device list [--group G] [--state STATE] [--expiring DURATION]\n"
	 "                                    [--json]\n",
	 "Lists the devices of the policy: name, username, groups, status (active, "
	 "suspended, retired, revoked, expired, none), expiry and serial, then a total line "
	 "(N devices (M shown)). Deleted devices are not listed. --group keeps the members "
	 "of a group, --state those in one status, --expiring those whose newest "
	 "certificate ends within DURATION (expired ones included); given together, all "
	 "must hold. --json prints only the devices shown, as an array."},
	{"device", "show", cmd_device_show, CMD_PKI_READ, "usage: mqadmin [-d DIR] device show NAME [--json]\n",
	 "Shows one device with every certificate it holds."},
	{"device", "revoke", cmd_device_revoke, CMD_PKI_WRITE,
	 "usage: mqadmin [-d DIR] device revoke NAME [--reason TEXT] [--passphrase-file FILE] [--wait[=SECONDS]]\n",
	 "Marks every certificate of the device revoked in the policy and re-signs "
	 "crl.pem. A running plugin disconnects the device within a second."},
	{"device", "suspend", cmd_device_suspend, CMD_PKI_WRITE, "usage: mqadmin [-d DIR] device suspend NAME [--wait[=SECONDS]]\n",
	 "Suspends a device: the plugin refuses it at CONNECT and disconnects it within a "
	 "second, without putting its certificates in the CRL. 'device resume' undoes it. "
	 "Suspending a suspended device changes nothing and exits 0."},
	{"device", "resume", cmd_device_resume, CMD_PKI_WRITE, "usage: mqadmin [-d DIR] device resume NAME [--wait[=SECONDS]]\n",
	 "Lets a suspended device connect again. Resuming an active device changes nothing "
	 "and exits 0."},
	{"device", "delete", cmd_device_delete, CMD_PKI_WRITE,
	 "usage: mqadmin [-d DIR] device delete NAME [--reason TEXT] [--passphrase-file FILE] [--wait[=SECONDS]]\n",
	 "Revokes every certificate of the device (re-signing crl.pem), removes it and the "
	 "ACL rules naming it from the policy and moves DIR/devices/NAME to "
	 "DIR/archive/NAME-TIMESTAMP/. A running plugin disconnects it within a second. Its "
	 "name can be issued again only with 'device issue NAME --force'."},
	{"device", "renew", cmd_device_renew, CMD_PKI_WRITE,
	 "usage: mqadmin [-d DIR] device renew NAME [--days N] [--key-type ec|rsa|ed25519 | --csr FILE]\n"
	 "                                     [--san DNS:name|email:addr|URI:uri]... [--no-san]\n"
	 "                                     [--format pem|der|p12|c-header]...\n"
	 "                                     [--p12-passphrase-file FILE] [--p12-modern]\n"
	 "                                     [--passphrase-file FILE] [--wait[=SECONDS]]\n",
	 "Issues a new certificate for an existing device, same identity and SANs (--san "
	 "replaces them, --no-san drops them). The old one stays valid until it expires or "
	 "is revoked, so the device can roll over."},
	{"device", "batch", cmd_device_batch, CMD_PKI_WRITE,
	 "usage: mqadmin [-d DIR] device batch (--count N --prefix P | --from FILE) [--group G]...\n"
	 "                                     [--san DNS:..{name}..|email:..|URI:..]...\n"
	 "                                     [--days N] [--key-type ec|rsa|ed25519]\n"
	 "                                     [--format pem|der|p12|c-header]...\n"
	 "                                     [--p12-passphrase-file FILE] [--p12-modern]\n"
	 "                                     [--passphrase-file FILE] [--wait[=SECONDS]]\n",
	 "Issues many devices under one lock with one policy write: --count N names them "
	 "PREFIX0001, PREFIX0002 and on; --from FILE takes one name per line (optionally with groups, "
	 "a CSR path and san= SANs). --san gives every device a SAN, {name} standing for its name. "
	 "--format writes every device the files device issue --format writes; p12 takes one "
	 "passphrase for the whole batch from --p12-passphrase-file. "
	 "Interrupting it never leaves a half-recorded device."},
	{"device", "set", cmd_device_set, CMD_PKI_WRITE,
	 "usage: mqadmin [-d DIR] device set NAME [--group G]... [--no-groups] [--username U]\n"
	 "                                   [--renew-now] [--wait[=SECONDS]]\n",
	 "Changes a device's groups or username in the policy; the plugin applies it live. "
	 "--renew-now opens the device's renewal window at once: its next request to 'mqadmin "
	 "serve' is granted whatever its certificate's age (the flag clears with that renewal)."},
	{"device", "import", cmd_device_import, CMD_PKI_WRITE,
	 "usage: mqadmin [-d DIR] device import CERT... [--name NAME] [--group G]... [--wait[=SECONDS]]\n",
	 "Registers device certificates issued elsewhere by this CA (PEM or DER; no key "
	 "needed): each must be signed by DIR/ca.crt (the signature is verified), in date, "
	 "and not registered yet. The device is named by the certificate's CN (--name for "
	 "a single certificate); a certificate for an existing device is added to it. All "
	 "or nothing: one refused file imports none."},
	{"device", "adopt", cmd_device_adopt, CMD_PKI_WRITE,
	 "usage: mqadmin [-d DIR] device adopt --from-audit [--since TIME] [--dry-run] [--wait[=SECONDS]]\n",
	 "Registers the certificates a broker with plugin_opt_mode observe let in that the "
	 "policy does not hold: the fingerprints of the observe events in DIR/audit/audit.log* "
	 "(since an ISO 8601 UTC time or an age like 2h), the certificates from "
	 "DIR/audit/seen/FINGERPRINT.pem. Certificates this CA did not sign, expired ones and "
	 "files that do not match their fingerprint are refused and said; --dry-run only "
	 "lists what would be adopted."},
	{"cert", "list", cmd_cert_list, CMD_PKI_READ, "usage: mqadmin [-d DIR] cert list [--device NAME] [--json]\n",
	 "Lists every certificate of the policy's devices (or of one device) with its state "
	 "(active, retired, suspended, revoked, expired), serial, fingerprint and validity, "
	 "then a total line."},
	{"cert", "revoke", cmd_cert_revoke, CMD_PKI_WRITE,
	 "usage: mqadmin [-d DIR] cert revoke SERIAL|FINGERPRINT [--reason TEXT]\n"
	 "                                   [--passphrase-file FILE] [--wait[=SECONDS]]\n",
	 "Revokes one certificate, named by its serial or fingerprint or a unique prefix of "
	 "either (at least 4 hex digits, any case, colons allowed), and re-signs crl.pem. "
	 "The device's other certificates keep working; a client connected with this one "
	 "is disconnected within a second. An ambiguous prefix lists the candidates."},
	{"acl", "add", cmd_acl_add, CMD_PKI_WRITE,
	 "usage: mqadmin [-d DIR] acl add (--device NAME | --group G | --all) --topic PATTERN\n"
	 "                               --access read|write|readwrite [--deny] [--wait[=SECONDS]]\n",
	 "Adds an ACL rule for a device, a group or all devices. PATTERN is an MQTT topic "
	 "filter in which %u is the client's username and %c its client id. Rules deny by "
	 "default; --deny beats an allow of the same or lower specificity."},
	{"acl", "list", cmd_acl_list, CMD_PKI_READ, "usage: mqadmin [-d DIR] acl list [--json]\n",
	 "Lists the ACL rules with their ids."},
	{"acl", "remove", cmd_acl_remove, CMD_PKI_WRITE, "usage: mqadmin [-d DIR] acl remove ID [--wait[=SECONDS]]\n",
	 "Removes the rule with this id."},
	{"acl", "check", cmd_acl_check, CMD_PKI_READ,
	 "usage: mqadmin [-d DIR] acl check NAME TOPIC read|write|subscribe [--client-id ID]\n",
	 "Prints the decision the plugin would make for this device, topic and access, and "
	 "the rule that made it."},
	{"acl", "import", cmd_acl_import, CMD_PKI_WRITE, "usage: mqadmin [-d DIR] acl import FILE [--dry-run] [--wait[=SECONDS]]\n",
	 "Translates a mosquitto acl_file (user, topic, pattern lines; use_identity_as_username "
	 "fleets, where the username is the CN) into rules: a user's topic lines become "
	 "device rules, pattern lines rules for all, deny lines deny readwrite. Lines with no "
	 "equivalent and pairs of lines whose precedence differs in mqcert are listed with "
	 "their line numbers; a line mosquitto would refuse imports nothing. --dry-run prints "
	 "the rules without writing them."},
	/* Reads a file, never DIR. */
	{"policy", "validate", cmd_policy_validate, CMD_NO_PKI, "usage: mqadmin [-d DIR] policy validate FILE\n",
	 "Checks a policy file with the plugin's own reader before it is moved into place: "
	 "prints ok with its generation and numbers of devices and rules, or the first "
	 "problem (a JSON error with its line and column, a duplicate member name with its "
	 "path, a file that is not a regular file). Exit status 0 valid, 1 invalid."},
	{"policy", "export", cmd_policy_export, CMD_PKI_READ, "usage: mqadmin [-d DIR] policy export [FILE]\n",
	 "Writes the policy store as one JSON document (one device or rule a line) "
	 "to standard output, or atomically to FILE: the backup and interchange format."},
	{"policy", "import", cmd_policy_import, CMD_PKI_WRITE, "usage: mqadmin [-d DIR] policy import FILE [--wait[=SECONDS]]\n",
	 "Replaces the whole policy in the store with FILE, first checked with the plugin's "
	 "own reader, in one transaction: a running broker re-judges every client. The CRL "
	 "number never goes down."},
	/* Opens DIR only when a side is "-" (the store). */
	{"policy", "diff", cmd_policy_diff, CMD_PKI_READ, "usage: mqadmin [-d DIR] policy diff A B\n",
	 "Compares two policies, each a file or - for the store: one line per device or rule "
	 "removed (-), added (+) or changed (~) from A to B. Exit status 0 same, 1 different."},
	{"crl", "update", crl_cmd, CMD_PKI_WRITE,
	 "usage: mqadmin [-d DIR] crl update [--days N] [--passphrase-file FILE] [--wait[=SECONDS]]\n",
	 "Re-signs DIR/crl.pem from the policy, valid for --days (default 30), with a CRL "
	 "number above every earlier one (kept in the policy). Run it when 'device revoke' "
	 "could not re-sign the CRL, and from a timer well before nextUpdate when a broker "
	 "uses crlfile: mosquitto refuses every client once its CRL is past nextUpdate "
	 "(examples/systemd/mqcert-crl.timer). Plain 'mqadmin crl' is the same command."},
	{"crl", NULL, crl_cmd, CMD_PKI_WRITE, "usage: mqadmin [-d DIR] crl [--days N] [--passphrase-file FILE]\n",
	 "The same as 'crl update'."},
	/* "audit log" before "audit": a one-word entry matches any second word. */
	/* Reads DIR/audit (--follow: for hours) without the store; cmdtab_pki only
	 * at the end, when --device matched no event, to say whether it exists. */
	{"audit", "log", cmd_audit_log, CMD_PKI_READ,
	 "usage: mqadmin [-d DIR] audit log [--device NAME] [--denied] [--event NAME]...\n"
	 "                                  [--since TIME] [--limit N] [--follow]\n"
	 "                                  [--file PATH] [--json]\n",
	 "Prints the plugin's audit log (DIR/audit/audit.log, or --file): connects, refusals, "
	 "disconnects, kicks, policy loads, ACL denials and suspected clones, oldest "
	 "first. --device keeps one device's events, --denied only refusals and ACL "
	 "denials, --event only events of that name (repeatable: connect, refused, "
	 "disconnect, kicked, acl_denied, acl_denied_suppressed, policy, clone, "
	 "audit_dropped), --since those from an ISO 8601 UTC time or within an age like 2h "
	 "or 3d, --limit the last N of those. --follow prints new events as they come, like "
	 "tail -f, starting with the last 10 (or --limit N), across logrotate's rename and "
	 "a truncation, until SIGINT or SIGTERM (exit status 0); with --json it prints one "
	 "JSON object per line. Malformed lines are skipped and counted on stderr; a "
	 "--device that is neither in the log nor in the policy is an error (exit status 1)."},
	{"audit", NULL, cmd_audit, CMD_PKI_READ,
	 "usage: mqadmin [-d DIR] audit [--state FILE]... [--json]\n"
	 "       mqadmin [-d DIR] audit --etcd URL[,URL...] [--etcd-prefix P] [--json]\n",
	 "Lists who is connected now, from the state files the plugin keeps, one per broker "
	 "(DIR/audit/connected-INSTANCE.json, or each --state FILE): device, username, client "
	 "id, address, broker, since when, expiry and serial, with flags for suspected clones "
	 "and for certificates that are revoked or unknown to the policy (which should never "
	 "happen: then exit status 1). Warns, per broker, when one stopped or its file is "
	 "stale; a file that cannot be read is an error (exit status 1), the others are "
	 "still shown. A broker whose 'mqadmin sync' cannot reach etcd is named with since "
	 "when (DIR/audit/sync-INSTANCE.json). With etcd (--etcd, $MQADMIN_ETCD or the "
	 "configuration file) and no --state it shows the fleet instead: every client each "
	 "broker's sync keeps in etcd (P connected/INSTANCE/CLIENT), with its broker; one "
	 "certificate connected to two brokers at once is flagged clone and named in a "
	 "CLONE warning; see docs/FLEET.md."},
	/* Runs for days, opening DIR/store itself as etcd's mirror. */
	{"sync", NULL, cmd_sync, CMD_NO_PKI,
	 "usage: mqadmin [-d DIR] sync [--etcd URL[,URL...]] [--etcd-prefix P] [--instance NAME]\n"
	 "                            [--etcd-user NAME --etcd-password-file FILE]\n"
	 "                            [--lease-ttl SECONDS] [--metrics-file FILE]\n",
	 "Runs beside one broker, in the foreground until SIGTERM or SIGINT, and keeps its "
	 "policy store (DIR/store) in step with the fleet's policy in etcd: a full "
	 "resynchronisation when the store has no etcd revision yet or etcd compacted it "
	 "(only differences are written), then a watch from the revision it applied, each "
	 "batch applied in one transaction. Keys that do not parse are reported and "
	 "skipped. The fleet's CRL (P crl.pem) is installed as DIR/crl.pem only when "
	 "DIR/ca.crt signed it and its number is higher. Under a lease (--lease-ttl, "
	 "default 10 s) it reports which etcd revision the broker has applied (P "
	 "brokers/INSTANCE, for --wait) and who is connected (P connected/INSTANCE/CLIENT, "
	 "for audit). With etcd unreachable the broker keeps enforcing the policy it has; "
	 "the sync retries with backoff, logs since when, and writes "
	 "DIR/audit/sync-INSTANCE.json and, with --metrics-file, a Prometheus textfile "
	 "(mqcert_sync_etcd_up, mqcert_sync_applied_revision, "
	 "mqcert_sync_etcd_down_since_seconds). INSTANCE is the broker's "
	 "plugin_opt_instance: by default the one state file in DIR/audit. With etcd auth "
	 "on, it logs in as --etcd-user (mqcert-sync-INSTANCE from scripts/fleet-etcd-auth: "
	 "read on the prefix, write on its own keys only). Logs go to "
	 "stderr with timestamps. See docs/FLEET.md."},
	/* Opens DIR to load the CA, then closes it (cmdtab_pki_close): it runs
	 * for days and opens DIR for writing at each renewal (serve.c). */
	{"serve", NULL, cmd_serve, CMD_PKI_READ,
	 "usage: mqadmin [-d DIR] serve [--host H] [--port N] [--name NAME] [--client-id ID]\n"
	 "                             [--cert FILE] [--key FILE] [--cafile FILE]\n"
	 "                             [--window N%|DURATION] [--rate-limit DURATION]\n"
	 "                             [--grace DURATION] [--days N] [--allow-key-reuse]\n"
	 "                             [--log FILE] [--once N] [--verbose] [--passphrase-file FILE]\n",
	 "Runs the renewal service in the foreground: connects to the broker (default "
	 "localhost:8883) as the service identity NAME (default mqadmin-serve, issued with "
	 "'device issue NAME --role service'; its files in DIR/devices/NAME/ unless --cert "
	 "and --key), answers the devices' renewal requests on mqcert/renew/DEVICE/req and "
	 "retires each renewed device's old certificate at its first connect with the new "
	 "one, or after --grace (default 7d). A request is granted inside the renewal window "
	 "(default the last 33% of the lifetime), at most once per --rate-limit (default "
	 "1h) per device, for a new key of the strength device issue requires. Each request "
	 "and outcome is a JSON line in --log (default DIR/serve.log). --once N exits after "
	 "N requests; --verbose prints where each batch's time went. See docs/renewal.md."},
	{"expiring", NULL, cmd_expiring, CMD_PKI_READ,
	 "usage: mqadmin [-d DIR] expiring [--within DURATION] [--json]\n",
	 "Lists the CA, server and device certificates that expire within DURATION "
	 "(default 30d; also 12h, or a bare number of days), expired ones included; "
	 "revoked devices are left out. The CRL (kind crl, its number as serial) is listed "
	 "when its nextUpdate is within DURATION and 7 days: past it a broker with crlfile "
	 "refuses every client. Exit status 1 when something is listed, 0 when "
	 "nothing is, so it can run from cron or a systemd timer."},
	{"report", NULL, cmd_report, CMD_PKI_READ,
	 "usage: mqadmin [-d DIR] report --html FILE [--since TIME] [--stale DURATION]\n",
	 "Writes one self-contained HTML page (inline CSS and SVG, nothing loaded from "
	 "elsewhere, no JavaScript) about the fleet: certificate expiry per week and per "
	 "month ahead; connects, refusals and ACL denials over time from the audit log "
	 "(DIR/audit/audit.log.1 and audit.log, every broker instance); refusals by reason; "
	 "devices by state and by group; devices never seen and not seen for --stale "
	 "(default 30d); suspected clones. Each plot has the table of its numbers beside "
	 "it. --since keeps events from an ISO 8601 UTC time or within an age like 7d. The "
	 "page is written atomically, mode 644."},
	{"broker-config", NULL, cmd_broker_config, CMD_PKI_READ,
	 "usage: mqadmin [-d DIR] broker-config [--port N] [--bind ADDR] [--server NAME]\n"
	 "                                     [--plugin PATH] [--crl]\n",
	 "Prints a mosquitto.conf block that works as printed: a TLS listener (on every "
	 "interface, or the IPv4 or IPv6 address --bind) requiring "
	 "client certificates, TLS 1.2 or newer, the CA, server certificate and key of "
	 "DIR, and the plugin lines pointing at the policy store DIR/store."},
	/* Diagnoses a DIR that may be missing, broken or locked. */
	{"doctor", NULL, cmd_doctor, CMD_NO_PKI,
	 "usage: mqadmin [-d DIR] doctor [--config FILE] [--host NAME|IP]... [--within DURATION]\n"
	 "                              [--broker-user USER] [--strict] [--json]\n",
	 "Checks DIR and, with --config, a mosquitto.conf (and its include_dir), and "
	 "prints each problem with its fix: CA and server with the same subject, server "
	 "certificates without SANs (or without one for each --host), only IP SANs "
	 "(ESP8266 BearSSL cannot verify them), private keys readable by others, files the "
	 "broker user (--broker-user USER, default mosquitto) cannot read, certificates "
	 "expired or expiring within --within (a duration such as 30d or 12h; default 30d), "
	 "weak keys and SHA-1 signatures, policy entries whose certificate file is missing "
	 "or differs, a CRL near or past nextUpdate, and config lines that break mqcert. The "
	 "exit status is 0 when there is no error (warnings alone do not count unless "
	 "--strict), 1 otherwise."},
	/* Looks at files; opens DIR only when it holds a store. */
	{"inspect", NULL, cmd_inspect, CMD_PKI_READ,
	 "usage: mqadmin [-d DIR] inspect FILE [--passphrase-file FILE] [--json]\n",
	 "Shows what a certificate, CSR, CRL or PKCS#12 file (PEM or DER) holds: subject, "
	 "issuer, SANs, serial, validity, key, signature algorithm, SHA-256 fingerprint, "
	 "CA flag and key usages, whether DIR's CA issued it and what DIR's policy says "
	 "about it. A PKCS#12 passphrase comes from --passphrase-file or a prompt without "
	 "echo. Private keys are never printed."},
};

#define NCOMMANDS (sizeof(commands) / sizeof(*commands))

static const char main_options[] =
	"\n"
	"options:\n"
	"  -d, --dir DIR   PKI directory (default: $MQADMIN_DIR, else 'dir = DIR' in "
	"$MQADMIN_CONFIG or /etc/mqcert/mqadmin.conf, else ./pki if it exists)\n"
	"  --etcd URL[,URL...]  keep the policy in etcd (the fleet; default: $MQADMIN_ETCD, else "
	"'etcd = URL' in the config file, which may also set etcd_cacert, etcd_cert, etcd_key): "
	"DIR/store becomes a cache of etcd and each changing command one etcd transaction\n"
	"  --etcd-prefix P  the etcd key prefix (default: $MQADMIN_ETCD_PREFIX, else 'etcd_prefix "
	"= P', else /mqcert/)\n"
	"  --etcd-cacert FILE, --etcd-cert FILE, --etcd-key FILE  TLS to etcd: the CA of its "
	"members and this client's certificate and key (default: $MQADMIN_ETCD_CACERT, "
	"$MQADMIN_ETCD_CERT, $MQADMIN_ETCD_KEY, else etcd_cacert, etcd_cert, etcd_key in the "
	"config file)\n"
	"  --etcd-user NAME, --etcd-password-file FILE  log in to etcd (its auth on) as NAME with "
	"the password in FILE (not open to other users; default: $MQADMIN_ETCD_USER, "
	"$MQADMIN_ETCD_PASSWORD_FILE, else etcd_user, etcd_password_file in the config file)\n"
	"  -h, --help      usage of mqadmin or of one command\n"
	"  --version       print the version\n"
	"exit status: 0 success, 1 the operation failed, 2 usage error\n";

/* Usage of every command whose first word is group (all when NULL). */
static void main_usage(FILE *f, const char *group)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!group || !strcmp(group, commands[i].group))
			fputs(commands[i].usage, f);
	if (!group)
		fputs(main_options, f);
}

/* "device list<TAB>read": every command with what main opens for it. */
static void main_list_commands(void)
{
	static const char *const modes[] = {
		[CMD_NO_PKI] = "none",
		[CMD_PKI_READ] = "read",
		[CMD_PKI_WRITE] = "write",
		[CMD_PKI_CREATE] = "create",
	};

	for (size_t i = 0; i < NCOMMANDS; i++)
		printf("%s%s%s\t%s\n", commands[i].group, commands[i].name ? " " : "",
		       commands[i].name ? commands[i].name : "", modes[commands[i].pki]);
}

static bool main_wants_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			return false;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	}
	return false;
}

/* Unique first (group) or second (!group) words of the table, or second
 * words of one group. */
static size_t main_words(const char *group, bool second, const char **out)
{
	size_t n = 0;

	for (size_t i = 0; i < NCOMMANDS; i++) {
		const char *w = second ? commands[i].name : commands[i].group;
		bool dup = false;

		if (!w || (group && strcmp(group, commands[i].group)))
			continue;
		for (size_t k = 0; k < n; k++)
			dup = dup || !strcmp(out[k], w);
		if (!dup)
			out[n++] = w;
	}
	return n;
}

/* "; did you mean 'device issue'?" for an unknown second word. */
static const char *main_suggest_name(const char *group, const char *name, char *buf, size_t len)
{
	const char *words[NCOMMANDS];
	char prefix[64];

	snprintf(prefix, sizeof(prefix), "%s ", group);
	return cli_did_you_mean(name, words, main_words(group, true, words), prefix, buf, len);
}

/* For an unknown first word: the nearest command, else the commands whose
 * second word is near it ("isue": 'device issue' or 'server issue'). */
static void main_suggest_group(const char *word, char *buf, size_t len)
{
	const char *words[NCOMMANDS], *near[3];
	size_t n, used = 0, shown = 0;

	if (*cli_did_you_mean(word, words, main_words(NULL, false, words), "", buf, len))
		return;
	n = cli_nearest(word, words, main_words(NULL, true, words), near, 3);
	for (size_t k = 0; k < n; k++) {
		for (size_t i = 0; i < NCOMMANDS && used < len; i++) {
			const struct command *c = &commands[i];

			if (!c->name || strcmp(c->name, near[k]))
				continue;
			used += (size_t)snprintf(buf + used, len - used, "%s'%s %s'",
						 shown ? " or " : "; did you mean ", c->group,
						 c->name);
			shown++;
		}
	}
	if (shown && used < len)
		snprintf(buf + used, len - used, "?");
}

/* Runs c; a command that changes the policy takes --wait[=SECONDS] (its
 * usage says so): after it committed, wait until the brokers applied it.
 * The store the command opened (cmdtab_pki) is closed first: --wait holds no
 * lock. */
static int main_run(struct cli_ctx *ctx, const struct command *c, int argc, char **argv)
{
	struct store st = {.lockfd = -1, .shlockfd = -1};
	uint64_t seq;
	long secs = -1;
	int rc;

	if (strstr(c->usage, "[--wait[=SECONDS]]") && wait_take_option(&argc, argv, &secs))
		return CLI_USAGE;
	ctx->pki = c->pki;
	ctx->st = &st;
	rc = c->run(ctx, argc, argv);
	ctx->st = NULL;
	/* The commands that open DIR themselves commit through the same store
	 * module: its record of this process's last commit. */
	seq = st.dir ? st.seq : store_committed_seq();
	if (st.dir)
		store_close(&st);
	/* With etcd, every live broker of the fleet (its sync's report in etcd);
	 * else the brokers on DIR (their state files). */
	if (rc == CLI_OK && secs >= 0 &&
	    (ctx->fleet ? wait_fleet_after(seq, secs) : wait_applied(ctx->dir, seq, secs)))
		rc = CLI_FAIL;
	return rc;
}

static int main_dispatch(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *group = argv[0], *name = argc > 1 ? argv[1] : NULL;
	bool known_group = false;
	char label[64], hint[256];

	for (size_t i = 0; i < NCOMMANDS; i++) {
		const struct command *c = &commands[i];
		int skip = c->name ? 1 : 0;

		if (strcmp(c->group, group))
			continue;
		known_group = true;
		if (c->name && (!name || strcmp(c->name, name)))
			continue;
		ctx->usage = c->usage;
		if (main_wants_help(argc - 1 - skip, argv + 1 + skip)) {
			fputs(c->usage, stdout);
			if (c->about) {
				fputc('\n', stdout);
				manpage_wrap(stdout, c->about, 2, 80);
			}
			return fflush(stdout) ? CLI_FAIL : CLI_OK;
		}
		/* argv[0] names the command in getopt's own messages. */
		snprintf(label, sizeof(label), "mqadmin %s%s%s", c->group, c->name ? " " : "",
			 c->name ? c->name : "");
		argv[skip] = label;
		return main_run(ctx, c, argc - skip, argv + skip);
	}
	if (!known_group) {
		main_suggest_group(group, hint, sizeof(hint));
		cli_err("unknown command '%s'%s", group,
			*hint ? hint : "; see 'mqadmin --help'");
		main_usage(stderr, NULL);
		return CLI_USAGE;
	}
	if (main_wants_help(argc - 1, argv + 1)) {
		main_usage(stdout, group);
		return fflush(stdout) ? CLI_FAIL : CLI_OK;
	}
	if (name)
		cli_err("unknown command '%s %s'%s", group, name,
			main_suggest_name(group, name, hint, sizeof(hint)));
	else
		cli_err("'%s' needs a subcommand", group);
	main_usage(stderr, group);
	return CLI_USAGE;
}

/* etcd (issue 17): --etcd/--etcd-prefix, else $MQADMIN_ETCD/_PREFIX,
 * else the config file's settings. */
static int main_etcd(const char *const *opt)
{
	static const char *const envs[PKIDIR_ETCD_KEYS] = {
		"MQADMIN_ETCD", "MQADMIN_ETCD_PREFIX", "MQADMIN_ETCD_CACERT", "MQADMIN_ETCD_CERT",
		"MQADMIN_ETCD_KEY", "MQADMIN_ETCD_USER", "MQADMIN_ETCD_PASSWORD_FILE"};
	const char *conf[PKIDIR_ETCD_KEYS], *v[PKIDIR_ETCD_KEYS];
	struct fleet_cfg c;

	if (pkidir_config_etcd(conf))
		return -1;
	for (size_t i = 0; i < PKIDIR_ETCD_KEYS; i++) {
		const char *env = getenv(envs[i]);

		v[i] = opt[i] ? opt[i] : env && *env ? env : conf[i];
	}
	c.endpoints = v[0];
	c.prefix = v[1];
	c.cacert = v[2];
	c.cert = v[3];
	c.key = v[4];
	c.user = v[5];
	c.password_file = v[6];
	if (c.prefix && (*c.prefix != '/' || c.prefix[strlen(c.prefix) - 1] != '/')) {
		cli_err("the etcd prefix '%s' must start and end with '/' (e.g. /mqcert/)", c.prefix);
		return -1;
	}
	return fleet_configure(&c);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dir", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{"man", no_argument, NULL, 'M'}, /* undocumented: builds mqadmin.1 */
		{"list-commands", no_argument, NULL, 'L'}, /* undocumented: the table, for tests */
		{"etcd", required_argument, NULL, 'E'},
		{"etcd-prefix", required_argument, NULL, 'P'},
		{"etcd-cacert", required_argument, NULL, 'A'},
		{"etcd-cert", required_argument, NULL, 'C'},
		{"etcd-key", required_argument, NULL, 'K'},
		{"etcd-user", required_argument, NULL, 'U'},
		{"etcd-password-file", required_argument, NULL, 'W'},
		{NULL, 0, NULL, 0},
	};
	struct cli_ctx ctx = {0};
	const char *given = NULL, *etcd[PKIDIR_ETCD_KEYS] = {NULL};
	int c;

	/* '+': global options end at the command word. */
	while ((c = cli_getopt(argc, argv, "+d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			given = optarg;
			break;
		case 'E':
			etcd[0] = optarg;
			break;
		case 'P':
			etcd[1] = optarg;
			break;
		case 'A':
			etcd[2] = optarg;
			break;
		case 'C':
			etcd[3] = optarg;
			break;
		case 'K':
			etcd[4] = optarg;
			break;
		case 'U':
			etcd[5] = optarg;
			break;
		case 'W':
			etcd[6] = optarg;
			break;
		case 'h':
			main_usage(stdout, NULL);
			return fflush(stdout) ? CLI_FAIL : CLI_OK;
		case 'V':
			printf("mqadmin %s\n", MQCERT_VERSION);
			return fflush(stdout) ? CLI_FAIL : CLI_OK;
		case 'L':
			main_list_commands();
			return cli_flush_stdout() ? CLI_FAIL : CLI_OK;
		case 'M':
			if (manpage_write(stdout, commands, NCOMMANDS, main_options, MQCERT_VERSION))
				return CLI_FAIL;
			return cli_flush_stdout() ? CLI_FAIL : CLI_OK;
		default:
			main_usage(stderr, NULL);
			return CLI_USAGE;
		}
	}
	if (optind >= argc) {
		cli_err("no command given");
		main_usage(stderr, NULL);
		return CLI_USAGE;
	}
	if (given && !*given) {
		cli_err("the PKI directory name is empty: pass -d DIR");
		return CLI_USAGE;
	}
	/* A broken config file must not hide the usage the operator asks for. */
	if (pkidir_resolve(given, &ctx.dir)) {
		if (!main_wants_help(argc - optind, argv + optind))
			return CLI_FAIL;
		ctx.dir = "./pki";
	}
	ctx.dir_from = (int)pkidir_from();
	if (main_etcd(etcd))
		return CLI_FAIL;
	ctx.fleet = fleet_enabled();
	return main_dispatch(&ctx, argc - optind, argv + optind);
}
