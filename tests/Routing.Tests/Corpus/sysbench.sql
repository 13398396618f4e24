# sysbench's OLTP scripts (/usr/share/sysbench/oltp_common.lua), run with --mysql-db=commerce: prepare, prewarm, run
# (prepared statements: the text of COM_STMT_PREPARE) and the same with --db-ps-mode=disable (values inlined), cleanup.

=== prepare: create table
@session commerce
CREATE TABLE sbtest1(
  id INTEGER NOT NULL AUTO_INCREMENT,
  k INTEGER DEFAULT '0' NOT NULL,
  c CHAR(120) DEFAULT '' NOT NULL,
  pad CHAR(60) DEFAULT '' NOT NULL,
  PRIMARY KEY (id)
) /*! ENGINE = innodb */ 
--- expect
kind: Ddl
target: commerce
tables: commerce.sbtest1
writes: true
effects: ImplicitCommit
sql: same

=== prepare: multi-row insert
@session commerce
INSERT INTO sbtest1(k, c, pad) VALUES(4993, '83868641912-28773972837-60736120486-75162659906-27563526494-20381887404-41576422241-93426793964-56405065102-33518432330', '67847967377-48000963322-62604785301-91415491898-96926520291'),(5020, '38014276128-25250245652-62722561801-27818678124-24890218270-18312424692-92565570600-36243745486-21199862476-38576014630', '23183251411-36241541236-31706421314-92007079971-60663066966')
--- expect
kind: Insert
target: commerce
tables: commerce.sbtest1
writes: true
effects: None
sql: same

=== prepare: secondary index
@session commerce
CREATE INDEX k_1 ON sbtest1(k)
--- expect
kind: Ddl
target: commerce
tables: commerce.sbtest1
writes: true
effects: ImplicitCommit
sql: same

=== prewarm: analyze
@session commerce
ANALYZE TABLE sbtest1
--- expect
kind: Ddl
target: commerce
tables: commerce.sbtest1
writes: true
effects: ImplicitCommit
sql: same

=== prewarm: set tmp_table_size
@session commerce
SET tmp_table_size=2*1024*1024*1024
--- expect
kind: Set
target: -
tables: -
writes: false
effects: CarriedSet
sql: same

=== prewarm: primary key scan
@session commerce
SELECT AVG(id) FROM (SELECT * FROM sbtest1 FORCE KEY (PRIMARY) LIMIT 10000) t
--- expect
kind: Select
target: commerce
tables: commerce.sbtest1
writes: false
effects: None
sql: same

=== prewarm: secondary key scan
@session commerce
SELECT COUNT(*) FROM (SELECT * FROM sbtest1 WHERE k LIKE '%0%' LIMIT 10000) t
--- expect
kind: Select
target: commerce
tables: commerce.sbtest1
writes: false
effects: None
sql: same

=== run: begin
@session commerce
BEGIN
--- expect
kind: Begin
target: -
tables: -
writes: false
effects: BeginsTransaction
sql: same

=== run: point select
@session commerce
SELECT c FROM sbtest1 WHERE id=?
--- expect
kind: Select
target: commerce
tables: commerce.sbtest1
writes: false
effects: None
sql: same

=== run: simple range
@session commerce
SELECT c FROM sbtest1 WHERE id BETWEEN ? AND ?
--- expect
kind: Select
target: commerce
tables: commerce.sbtest1
writes: false
effects: None
sql: same

=== run: sum range
@session commerce
SELECT SUM(k) FROM sbtest1 WHERE id BETWEEN ? AND ?
--- expect
kind: Select
target: commerce
tables: commerce.sbtest1
writes: false
effects: None
sql: same

=== run: order range
@session commerce
SELECT c FROM sbtest1 WHERE id BETWEEN ? AND ? ORDER BY c
--- expect
kind: Select
target: commerce
tables: commerce.sbtest1
writes: false
effects: None
sql: same

=== run: distinct range
@session commerce
SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN ? AND ? ORDER BY c
--- expect
kind: Select
target: commerce
tables: commerce.sbtest1
writes: false
effects: None
sql: same

=== run: update index
@session commerce
UPDATE sbtest1 SET k=k+1 WHERE id=?
--- expect
kind: Update
target: commerce
tables: commerce.sbtest1
writes: true
effects: None
sql: same

=== run: update non-index
@session commerce
UPDATE sbtest1 SET c=? WHERE id=?
--- expect
kind: Update
target: commerce
tables: commerce.sbtest1
writes: true
effects: None
sql: same

=== run: delete
@session commerce
DELETE FROM sbtest1 WHERE id=?
--- expect
kind: Delete
target: commerce
tables: commerce.sbtest1
writes: true
effects: None
sql: same

=== run: insert
@session commerce
INSERT INTO sbtest1 (id, k, c, pad) VALUES (?, ?, ?, ?)
--- expect
kind: Insert
target: commerce
tables: commerce.sbtest1
writes: true
effects: None
sql: same

=== run: commit
@session commerce
COMMIT
--- expect
kind: Commit
target: -
tables: -
writes: false
effects: EndsTransaction
sql: same

=== run without prepared statements: point select
@session commerce
SELECT c FROM sbtest1 WHERE id=5012
--- expect
kind: Select
target: commerce
tables: commerce.sbtest1
writes: false
effects: None
sql: same

=== run without prepared statements: update non-index
@session commerce
UPDATE sbtest1 SET c='68487932199-96439406143-93774651418-41631865787-96406072701-20604855487-25459966574-28203206787-41238978918-19503783441' WHERE id=5012
--- expect
kind: Update
target: commerce
tables: commerce.sbtest1
writes: true
effects: None
sql: same

=== run without prepared statements: insert
@session commerce
INSERT INTO sbtest1 (id, k, c, pad) VALUES (5012, 4993, '83868641912-28773972837-60736120486-75162659906-27563526494-20381887404-41576422241-93426793964-56405065102-33518432330', '67847967377-48000963322-62604785301-91415491898-96926520291')
--- expect
kind: Insert
target: commerce
tables: commerce.sbtest1
writes: true
effects: None
sql: same

=== run on a replica target: point select
@session commerce@replica
SELECT c FROM sbtest1 WHERE id=?
--- expect
kind: Select
target: commerce@replica
tables: commerce.sbtest1
writes: false
effects: None
sql: same

=== cleanup: drop table
@session commerce
DROP TABLE IF EXISTS sbtest1
--- expect
kind: Ddl
target: commerce
tables: commerce.sbtest1
writes: true
effects: ImplicitCommit
sql: same
