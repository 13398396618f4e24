#!/usr/bin/env bash
# The seeds' MoveTables walkthrough (commerce -> customer for customer and corder), sourced by infra/demo.sh after the
# sample data is loaded, with the cluster env loaded (mysql_commerce, mysql_customer, tablet, durablectl on PATH).
# It starts a Functions host and a Streamer of its own, runs a small application that writes and reads corder rows
# throughout through the cluster's two gateways (alternating; the gateways route by the rules and hold its statements
# while traffic switches, as vtgate does), and proves each outcome, the application's zero errors included. It ends by
# putting the seeds' starting state back (commerce tables recreated, customer tables dropped) so the demo can run again.
set -euo pipefail

# shellcheck source=common.sh
source "$REPO/infra/demo.d/common.sh"

say "Reset leftovers of an earlier run (routing rules, workflow records, guard triggers, streams, customer tables)"
etcdctl del /durable/global/RoutingRules >/dev/null
etcdctl del --prefix /durable/global/workflows/customer/commerce2customer/ >/dev/null
etcdctl del --prefix /durable/global/workflows/commerce/commerce2customer_reverse/ >/dev/null
for uid in 100 200; do
  db=$([ "$uid" = 100 ] && echo vt_commerce || echo vt_customer)
  tablet "$uid" -N -e "SELECT CONCAT('DROP TRIGGER \`', TRIGGER_SCHEMA, '\`.\`', TRIGGER_NAME, '\`;') FROM information_schema.TRIGGERS WHERE TRIGGER_NAME LIKE '\\_durable\\_guard\\_%'" | tablet "$uid"
  if [ -n "$(tablet "$uid" -N -e "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA='_vt' AND TABLE_NAME='vreplication'")" ]; then
    tablet "$uid" _vt -e "DELETE c FROM _vt.copy_state c JOIN _vt.vreplication v ON v.id = c.vrepl_id WHERE v.workflow IN ('commerce2customer','commerce2customer_reverse');
                     DELETE FROM _vt.vreplication WHERE workflow IN ('commerce2customer','commerce2customer_reverse')"
  fi
done
tablet 200 vt_customer -e "DROP TABLE IF EXISTS customer, corder"
echo "clean"

say "Start a Functions host (its own task hub on Azurite) and a Streamer"
wt_start_host_and_streamer

say "Start the application: through the gateways (1 and 2 in turn) it writes a corder row and reads corder back every 20 ms"
wt_start_application 1

say "Start the move (the seeds: MoveTables --target-keyspace customer --workflow commerce2customer create --source-keyspace commerce --tables 'customer,corder')"
run durablectl MoveTables --target-keyspace customer --workflow commerce2customer create --source-keyspace commerce --tables 'customer,corder' \
  --approvers alice

say "Check routing rules: everything still goes to commerce (16 rules incl. @replica and @rdonly)"
printf "$ durablectl GetRoutingRules\n"; durablectl GetRoutingRules > "$WT_DIR/rules1.json"; cat "$WT_DIR/rules1.json"
python3 - "$WT_DIR/rules1.json" <<'PY' || fail "routing rules after create"
import json,sys
r=json.load(open(sys.argv[1]))["rules"]; assert len(r)==16, len(r)
assert all(x["to_tables"][0].startswith("commerce.") for x in r)
for f in ["customer","customer.customer","customer@replica","commerce.corder@rdonly","customer.corder@replica"]: assert f in {x["from_table"] for x in r}, f
PY
proven "16 rules, all to commerce, including the @replica and @rdonly forms"

say "Monitor progress"
for _ in $(seq 1 120); do
  durablectl MoveTables --target-keyspace customer --workflow commerce2customer status --format json > "$WT_DIR/status.json" || true
  grep -q '"table_copy_state": {}' "$WT_DIR/status.json" && grep -q 'Running' "$WT_DIR/status.json" && break; sleep 1
done
run durablectl MoveTables --target-keyspace customer --workflow commerce2customer status
run durablectl MoveTables --target-keyspace customer --workflow commerce2customer show | head -60

say "VDiff: compare source and target row by row while the application writes (the seeds: VDiff --target-keyspace customer --workflow commerce2customer create)"
run durablectl VDiff --target-keyspace customer --workflow commerce2customer create
for _ in $(seq 1 240); do
  durablectl VDiff --format=json --target-keyspace customer --workflow commerce2customer show last > "$WT_DIR/vdiff.json" 2>/dev/null || true
  python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1])).get("State") in ("completed","error") else 1)' "$WT_DIR/vdiff.json" 2>/dev/null && break
  sleep 0.5
done
printf '$ durablectl VDiff --format=json --target-keyspace customer --workflow commerce2customer show last --verbose\n'
durablectl VDiff --format=json --target-keyspace customer --workflow commerce2customer show last --verbose | tee "$WT_DIR/vdiff.json"
python3 - "$WT_DIR/vdiff.json" <<'PY' || fail "VDiff did not finish clean"
import json,sys
r=json.load(open(sys.argv[1]))
assert r["State"]=="completed", r["State"]
assert r["HasMismatch"] is False, r.get("TableSummary")
assert set(r["TableSummary"])=={"customer","corder"}, r["TableSummary"]
for t in r["TableSummary"].values():
    assert t["MismatchedRows"]==0 and t["ExtraRowsSource"]==0 and t["ExtraRowsTarget"]==0, t
PY
proven "VDiff completed: customer and corder match row for row (HasMismatch false), as the seeds' JSON shows"

say "A write sent to the target too early fails, naming the workflow"
if out=$(mysql_customer -e "INSERT INTO customer (email) VALUES ('early@domain.com')" 2>&1); then fail "the early write went through"; fi
echo "$out"; echo "$out" | grep -q "workflow customer.commerce2customer" || fail "guard message"
proven "the target is guarded until the switch"

say "SwitchTraffic dry run"
run durablectl MoveTables --target-keyspace customer --workflow commerce2customer switchtraffic --dry-run

say "SwitchTraffic waits for alice's signed approval"
run durablectl MoveTables --target-keyspace customer --workflow commerce2customer switchtraffic
DURABLE_APPROVER_KEY="$APPROVER_KEY" run durablectl MoveTables --target-keyspace customer --workflow commerce2customer approve --action SwitchTraffic --approver alice
wt_wait_traffic customer commerce2customer "All Reads Switched. Writes Switched"
proven "the workflow reports: All Reads Switched. Writes Switched"
wt_check_application "during the switch"
proven "the application wrote and read through the gateways across the switch without an error ($(cat "$WT_DIR/app.ok") writes, $(cat "$WT_DIR/app.reads") reads so far)"

say "Read the sample data through a gateway: customer and corder now come from the customer keyspace (the rules), product from commerce"
printf '$ gateway 2 --table commerce < infra/local/sql/select_commerce_data.sql\n'
gateway 2 --table commerce < "$REPO/infra/local/sql/select_commerce_data.sql"

say "Check the routing rules: customer and corder go to the customer keyspace"
printf "$ durablectl GetRoutingRules\n"; durablectl GetRoutingRules > "$WT_DIR/rules2.json"; cat "$WT_DIR/rules2.json"
python3 - "$WT_DIR/rules2.json" <<'PY' || fail "routing rules after switch"
import json,sys
r=json.load(open(sys.argv[1]))["rules"]; assert len(r)==16
assert all(x["to_tables"][0].startswith("customer.") for x in r)
assert "commerce.customer" in {x["from_table"] for x in r} and "customer.customer" not in {x["from_table"] for x in r}
PY
proven "16 rules, all to customer, as the seeds show after SwitchTraffic"

say "Writes to the source are denied after the switch; the reverse workflow carries target writes back"
if out=$(mysql_commerce -e "INSERT INTO customer (email) VALUES ('late@domain.com')" 2>&1); then fail "a write to the source went through"; fi
echo "$out"
mysql_customer -e "INSERT INTO customer (customer_id, email) VALUES (100, 'new@domain.com')"
for _ in $(seq 1 100); do [ "$(mysql_commerce -N -e 'SELECT COUNT(*) FROM customer WHERE customer_id = 100')" = 1 ] && break; sleep 0.2; done
[ "$(mysql_commerce -N -e 'SELECT COUNT(*) FROM customer WHERE customer_id = 100')" = 1 ] || fail "reverse replication"
proven "the row written to customer.customer reached commerce.customer through commerce2customer_reverse"
run durablectl Workflow --keyspace commerce list
run durablectl Workflow --keyspace commerce show --workflow commerce2customer_reverse | head -40

say "Finalize: complete (needs its own approval, given once Complete is pending)"
touch "$WT_DIR/stop"
# The application has stopped; once the reverse stream has applied its last writes both sides hold the same rows.
for t in customer corder; do
  for _ in $(seq 1 50); do
    a=$(mysql_commerce -N -e "CHECKSUM TABLE $t" | awk '{print $2}'); b=$(mysql_customer -N -e "CHECKSUM TABLE $t" | awk '{print $2}')
    [ "$a" = "$b" ] && break; sleep 0.2
  done
  [ "$a" = "$b" ] || fail "$t differs between commerce ($a) and customer ($b)"
done
proven "customer and corder are equal in commerce and customer (CHECKSUM TABLE) after $(cat "$WT_DIR/app.ok") application writes"
wt_check_application
written=$(mysql_customer -N -e "SELECT COUNT(*) FROM corder WHERE sku = 'SKU-APP'")
[ "$written" = "$(cat "$WT_DIR/app.ok")" ] || fail "the application's acknowledged writes ($(cat "$WT_DIR/app.ok")) are not all in customer.corder ($written)"
proven "no error seen by the application through the gateways, and all its $written acknowledged writes are in customer.corder"
run durablectl MoveTables --target-keyspace customer --workflow commerce2customer complete
# An approval authorises the pending command in the current traffic generation, once: it is given after Complete waits.
DURABLE_APPROVER_KEY="$APPROVER_KEY" run durablectl MoveTables --target-keyspace customer --workflow commerce2customer approve --action Complete --approver alice
for _ in $(seq 1 120); do mysql_commerce -e "SELECT 1 FROM customer LIMIT 1" >/dev/null 2>&1 || break; sleep 0.5; done
if mysql_commerce -e "SELECT * FROM customer" 2>&1; then fail "commerce.customer still exists"; fi
run durablectl GetRoutingRules
[ "$(durablectl GetRoutingRules --format json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["rules"]))')" = 0 ] || fail "rules left"
run durablectl Workflow --keyspace customer list
run durablectl Workflow --keyspace commerce list
proven "source tables gone, no routing rules, no workflows in either keyspace"

say "Put the seeds' starting state back for the next run (commerce tables recreated, customer tables dropped)"
mysql_commerce < "$REPO/infra/local/sql/create_commerce_schema.sql"
tablet 200 vt_customer -e "DROP TABLE IF EXISTS customer, corder"
echo "done"
