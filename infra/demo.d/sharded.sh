#!/usr/bin/env bash
# The sharded walkthrough (issue 21): the seeds' customer and corder move from commerce into customer_sharded (two
# shards, hash vindex on customer_id) with their auto-increments replaced by sequences in the global keyspace commerce
# (--sharded-auto-increment-handling REPLACE --global-keyspace commerce), a share of reads mirrored to the target before
# the switch (MirrorTraffic), SwitchTraffic --initialize-target-sequences, and the application inserting through the
# gateways all along: after the switch the gateways route its inserts by the vindex and fill order_id from the
# sequence, with no id used twice across the shards. Sourced by `infra/demo.sh --sharded` after the sample data is
# loaded; it ends by putting the seeds' starting state back.
set -euo pipefail

# shellcheck source=common.sh
source "$REPO/infra/demo.d/common.sh"
WF=commerce2sharded
TARGET=customer_sharded

say "Reset leftovers of an earlier run (rules, mirror rules, VSchemas, workflow records, guards, streams, tables, sequences)"
etcdctl del /durable/global/RoutingRules >/dev/null
etcdctl del /durable/global/MirrorRules >/dev/null
etcdctl del /durable/global/keyspaces/$TARGET/VSchema >/dev/null
etcdctl del /durable/global/keyspaces/commerce/VSchema >/dev/null
etcdctl del --prefix /durable/global/workflows/$TARGET/$WF/ >/dev/null
etcdctl del --prefix /durable/global/workflows/commerce/${WF}_reverse/ >/dev/null
for uid in 100 300 400; do
  tablet "$uid" -N -e "SELECT CONCAT('DROP TRIGGER \`', TRIGGER_SCHEMA, '\`.\`', TRIGGER_NAME, '\`;') FROM information_schema.TRIGGERS WHERE TRIGGER_NAME LIKE '\\_durable\\_guard\\_%'" | tablet "$uid"
  if [ -n "$(tablet "$uid" -N -e "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA='_vt' AND TABLE_NAME='vreplication'")" ]; then
    tablet "$uid" _vt -e "DELETE c FROM _vt.copy_state c JOIN _vt.vreplication v ON v.id = c.vrepl_id WHERE v.workflow IN ('$WF','${WF}_reverse');
                     DELETE FROM _vt.vreplication WHERE workflow IN ('$WF','${WF}_reverse')"
  fi
done
for uid in 300 400; do tablet "$uid" vt_customer_sharded -e "DROP TABLE IF EXISTS customer, corder"; done
tablet 100 vt_commerce -e "DROP TABLE IF EXISTS customer_seq, corder_seq"
echo "clean"

say "Start a Functions host (its own task hub on Azurite) and a Streamer"
wt_start_host_and_streamer

say "The target's VSchema: customer and corder sharded by a hash of customer_id (the seeds' customer_sharded VSchema)"
run durablectl ApplyVSchema --vschema '{"sharded":true,"vindexes":{"hash":{"type":"hash"}},"tables":{"customer":{"column_vindexes":[{"column":"customer_id","name":"hash"}]},"corder":{"column_vindexes":[{"column":"customer_id","name":"hash"}]}}}' $TARGET

say "Start the application: through the gateways (1 and 2 in turn) it inserts corder rows for customers 1-5 (no order_id: the auto-increment gives it) and counts them, every 20 ms"
wt_start_application 5

say "Start the move with sequences (MoveTables create --sharded-auto-increment-handling REPLACE --global-keyspace commerce)"
run durablectl MoveTables --target-keyspace $TARGET --workflow $WF create --source-keyspace commerce --tables 'customer,corder' \
  --sharded-auto-increment-handling REPLACE --global-keyspace commerce --approvers alice

say "The sequences: a table per auto-increment in commerce, named in both VSchemas; AUTO_INCREMENT gone on the shards"
run durablectl GetVSchema $TARGET
run durablectl GetVSchema commerce
run mysql_commerce --table -e "SELECT 'customer_seq' AS seq, id, next_id, cache FROM customer_seq UNION ALL SELECT 'corder_seq', id, next_id, cache FROM corder_seq"
for uid in 300 400; do
  tablet "$uid" vt_customer_sharded -N -e "SHOW CREATE TABLE corder" | grep -qi auto_increment && fail "corder on tablet $uid still has AUTO_INCREMENT"
done
proven "customer_seq and corder_seq exist in commerce; corder has no AUTO_INCREMENT on either shard"

say "Wait for the copy, then compare (VDiff) while the application writes"
for _ in $(seq 1 120); do
  durablectl MoveTables --target-keyspace $TARGET --workflow $WF status --format json > "$WT_DIR/status.json" || true
  grep -q '"table_copy_state": {}' "$WT_DIR/status.json" && grep -q 'Running' "$WT_DIR/status.json" && break; sleep 1
done
run durablectl MoveTables --target-keyspace $TARGET --workflow $WF status
run durablectl VDiff --target-keyspace $TARGET --workflow $WF create
for _ in $(seq 1 240); do
  durablectl VDiff --format=json --target-keyspace $TARGET --workflow $WF show last > "$WT_DIR/vdiff.json" 2>/dev/null || true
  python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1])).get("State") in ("completed","error") else 1)' "$WT_DIR/vdiff.json" 2>/dev/null && break
  sleep 0.5
done
python3 - "$WT_DIR/vdiff.json" <<'PY' || { cat "$WT_DIR/vdiff.json"; fail "VDiff did not finish clean"; }
import json,sys
r=json.load(open(sys.argv[1]))
assert r["State"]=="completed" and r["HasMismatch"] is False, r
PY
proven "VDiff completed: customer and corder match across both shards"

say "Mirror half of the reads to the target before switching (MoveTables MirrorTraffic --percent 50)"
run durablectl MoveTables --target-keyspace $TARGET --workflow $WF MirrorTraffic --percent 50
run durablectl GetMirrorRules
sleep 3
printf '$ curl -s http://127.0.0.1:15001/status\n'
curl -s "http://127.0.0.1:15001/status" | tee "$WT_DIR/gw-status.json"; echo
python3 - "$WT_DIR/gw-status.json" <<'PY' || fail "the gateway mirrored nothing"
import json,sys
m=json.load(open(sys.argv[1]))["mirror"]
assert m["statements_mirrored"] > 0 and m["target_errors"] == 0, m
PY
proven "gateway 1 sends a share of the application's reads to customer_sharded too (the client still gets commerce's answer)"
wt_check_application "while mirroring"

say "SwitchTraffic --initialize-target-sequences (waits for alice's approval)"
run durablectl MoveTables --target-keyspace $TARGET --workflow $WF switchtraffic --initialize-target-sequences --dry-run
max_before=$(mysql_commerce -N -e "SELECT MAX(order_id) FROM corder")
run durablectl MoveTables --target-keyspace $TARGET --workflow $WF switchtraffic --initialize-target-sequences
DURABLE_APPROVER_KEY="$APPROVER_KEY" run durablectl MoveTables --target-keyspace $TARGET --workflow $WF approve --action SwitchTraffic --approver alice
wt_wait_traffic $TARGET $WF "All Reads Switched. Writes Switched"
proven "the workflow reports: All Reads Switched. Writes Switched"
wt_check_application "during the switch"
proven "the application inserted and read through the gateways across the switch without an error ($(cat "$WT_DIR/app.ok") inserts so far)"
run durablectl GetMirrorRules
[ "$(durablectl GetMirrorRules --format json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["rules"]))')" = 0 ] || fail "mirror rules left after SwitchTraffic"
proven "SwitchTraffic removed the mirror rules"
run mysql_commerce --table -e "SELECT 'corder_seq' AS seq, next_id, cache FROM corder_seq"

say "After the switch the gateways fill order_id from corder_seq: no id twice across the shards"
sleep 3
touch "$WT_DIR/stop"; sleep 0.5
for uid in 300 400; do tablet "$uid" vt_customer_sharded -N -e "SELECT order_id FROM corder"; done | sort -n > "$WT_DIR/ids"
printf 'corder rows: -80 %s, 80- %s\n' "$(tablet 300 vt_customer_sharded -N -e 'SELECT COUNT(*) FROM corder')" "$(tablet 400 vt_customer_sharded -N -e 'SELECT COUNT(*) FROM corder')"
[ -z "$(uniq -d "$WT_DIR/ids")" ] || fail "order ids used twice across the shards: $(uniq -d "$WT_DIR/ids" | head -5 | tr '\n' ' ')"
new=$(awk -v m="$max_before" '$1 > m' "$WT_DIR/ids" | wc -l)
[ "$new" -gt 0 ] || fail "no order written after the switch"
proven "$(wc -l < "$WT_DIR/ids") order ids over both shards, none twice; $new written after the switch, all above commerce's last ($max_before)"
printf '$ gateway 1 --table commerce -e "SELECT customer_id, COUNT(*) FROM corder GROUP BY customer_id ORDER BY customer_id"\n'
gateway 1 --table commerce -e "SELECT customer_id, COUNT(*) FROM corder GROUP BY customer_id ORDER BY customer_id"
wt_check_application
written=$(gateway 1 commerce -N -e "SELECT COUNT(*) FROM corder WHERE sku = 'SKU-APP'")
[ "$written" = "$(cat "$WT_DIR/app.ok")" ] || fail "the application's acknowledged inserts ($(cat "$WT_DIR/app.ok")) are not all in customer_sharded.corder ($written)"
proven "all $written acknowledged inserts are in customer_sharded.corder (a scatter COUNT through the gateway)"

say "Finalize: complete (needs its own approval)"
run durablectl MoveTables --target-keyspace $TARGET --workflow $WF complete
DURABLE_APPROVER_KEY="$APPROVER_KEY" run durablectl MoveTables --target-keyspace $TARGET --workflow $WF approve --action Complete --approver alice
for _ in $(seq 1 120); do mysql_commerce -e "SELECT 1 FROM customer LIMIT 1" >/dev/null 2>&1 || break; sleep 0.5; done
if mysql_commerce -e "SELECT 1 FROM customer LIMIT 1" >/dev/null 2>&1; then fail "commerce.customer still exists"; fi
proven "source tables gone; the sequences stay in commerce for the sharded tables"

say "Put the seeds' starting state back (commerce tables recreated; sharded tables, sequences and VSchemas removed)"
mysql_commerce < "$REPO/infra/local/sql/create_commerce_schema.sql"
for uid in 300 400; do tablet "$uid" vt_customer_sharded -e "DROP TABLE IF EXISTS customer, corder"; done
tablet 100 vt_commerce -e "DROP TABLE IF EXISTS customer_seq, corder_seq"
etcdctl del /durable/global/keyspaces/$TARGET/VSchema >/dev/null
etcdctl del /durable/global/keyspaces/commerce/VSchema >/dev/null
echo "done"
