# What client libraries and tools send on their own: the mariadb client (connect, \u, -e, --table, completion,
# \s), MySqlConnector 3.0 (connect with default settings, transactions, savepoints, session reset, cancellation) and
# the project's own client (src/Core/MySql and the statements its callers run).

=== mariadb: startup version comment
select @@version_comment limit 1
--- expect
kind: Select
target: -
tables: -
writes: false
effects: None
sql: same

=== mariadb: startup version comment in a keyspace
@session commerce
select @@version_comment limit 1
--- expect
kind: Select
target: -
tables: -
writes: false
effects: None
sql: same

=== mariadb: current database and user (status, \s)
@session commerce
select DATABASE(), USER() limit 1
--- expect
kind: Select
target: -
tables: -
writes: false
effects: None
sql:
select 'commerce', USER() limit 1

=== mariadb: current database without one
SELECT DATABASE()
--- expect
kind: Select
target: -
tables: -
writes: false
effects: None
sql:
SELECT NULL

=== mariadb: current database on a replica target
@session commerce@replica
SELECT DATABASE()
--- expect
kind: Select
target: -
tables: -
writes: false
effects: None
sql:
SELECT 'commerce'

=== mariadb: character sets (status)
select @@character_set_client, @@character_set_connection, @@character_set_server, @@character_set_database limit 1
--- expect
kind: Select
target: -
tables: -
writes: false
effects: None
sql: same

=== mariadb: completion databases
show databases
--- expect
kind: Local
target: -
tables: -
writes: false
effects: None
local: ShowDatabases
sql: empty

=== mariadb: completion tables
@session commerce
show tables
--- expect
kind: Show
target: commerce
tables: -
writes: false
effects: None
sql: same

=== mariadb: show warnings
show warnings
--- expect
kind: Show
target: -
tables: -
writes: false
effects: None
sql: same

=== mariadb: safe updates (--safe-updates)
SET SQL_SAFE_UPDATES=1,SQL_SELECT_LIMIT=1000,MAX_JOIN_SIZE=1000000
--- expect
kind: Set
target: -
tables: -
writes: false
effects: CarriedSet
sql: same

=== mariadb: autocommit off
SET autocommit=0
--- expect
kind: Set
target: -
tables: -
writes: false
effects: AutocommitOff
sql: same

=== mariadb: autocommit on
SET autocommit=1
--- expect
kind: Set
target: -
tables: -
writes: false
effects: AutocommitOn
sql: same

=== mariadb: charset command
SET NAMES utf8mb4
--- expect
kind: Set
target: -
tables: -
writes: false
effects: CarriedSet
sql: same

=== mariadb: show fields
@session commerce
show fields from `customer`
--- expect
kind: Show
target: commerce
tables: commerce.customer
writes: false
effects: None
sql: same

=== mariadb: show keys
@session commerce
show keys from `product`
--- expect
kind: Show
target: commerce
tables: commerce.product
writes: false
effects: None
sql: same

=== mariadb: use (\u customer)
USE customer
--- expect
kind: Use
target: -
tables: -
writes: false
effects: ChangesKeyspace
use: customer
sql:
USE `vt_customer`

=== mariadb: use a replica target
USE `commerce@replica`
--- expect
kind: Use
target: -
tables: -
writes: false
effects: ChangesKeyspace
use: commerce@replica
sql:
USE `vt_commerce`

=== mariadb: use with the tablet type unquoted
USE commerce@rdonly
--- expect
kind: Use
target: -
tables: -
writes: false
effects: ChangesKeyspace
use: commerce@rdonly
sql:
USE `vt_commerce`

=== mysqlconnector: proxy detection
SELECT CONNECTION_ID(), VERSION();
--- expect
kind: Select
target: -
tables: -
writes: false
effects: None
sql: same

=== mysqlconnector: names after reset
SET NAMES utf8mb4;
--- expect
kind: Set
target: -
tables: -
writes: false
effects: CarriedSet
sql: same

=== mysqlconnector: begin with isolation level
@session commerce
set session transaction isolation level repeatable read;start transaction
--- expect
kind: Multi
target: -
tables: -
writes: false
effects: BeginsTransaction, CarriedSet
parts: 2
sql: same

=== mysqlconnector: begin read only
start transaction read only
--- expect
kind: Begin
target: -
tables: -
writes: false
effects: BeginsTransaction
sql: same

=== mysqlconnector: begin with consistent snapshot
start transaction with consistent snapshot
--- expect
kind: Begin
target: -
tables: -
writes: false
effects: BeginsTransaction
sql: same

=== mysqlconnector: commit
commit;
--- expect
kind: Commit
target: -
tables: -
writes: false
effects: EndsTransaction
sql: same

=== mysqlconnector: rollback
rollback;
--- expect
kind: Rollback
target: -
tables: -
writes: false
effects: EndsTransaction
sql: same

=== mysqlconnector: savepoint
savepoint sp1
--- expect
kind: Savepoint
target: -
tables: -
writes: false
effects: None
sql: same

=== mysqlconnector: release savepoint
release savepoint sp1
--- expect
kind: Savepoint
target: -
tables: -
writes: false
effects: None
sql: same

=== mysqlconnector: rollback to savepoint
rollback to savepoint sp1
--- expect
kind: Savepoint
target: -
tables: -
writes: false
effects: None
sql: same

=== mysqlconnector: clearing a cancellation
DO SLEEP(0);
--- expect
kind: Select
target: -
tables: -
writes: false
effects: None
sql: same

=== mysqlconnector: parameterized query
@session commerce
SELECT customer_id, email FROM customer WHERE email = @email
--- expect
kind: Select
target: commerce
tables: commerce.customer
writes: false
effects: None
sql: same

=== own client: keep-alive after a cancellation
DO 0
--- expect
kind: Select
target: -
tables: -
writes: false
effects: None
sql: same

=== own client: session time zone and sql mode
SET SESSION time_zone = '+00:00', SESSION sql_mode = REPLACE(@@sql_mode, 'PAD_CHAR_TO_FULL_LENGTH', '')
--- expect
kind: Set
target: -
tables: -
writes: false
effects: CarriedSet
sql: same

=== own client: snapshot isolation
SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ
--- expect
kind: Set
target: -
tables: -
writes: false
effects: CarriedSet
sql: same

=== own client: lock wait timeout
SET SESSION lock_wait_timeout = 5
--- expect
kind: Set
target: -
tables: -
writes: false
effects: CarriedSet
sql: same

=== own client: consistent snapshot
START TRANSACTION WITH CONSISTENT SNAPSHOT
--- expect
kind: Begin
target: -
tables: -
writes: false
effects: BeginsTransaction
sql: same

=== own client: gtid position
SELECT @@global.gtid_binlog_pos
--- expect
kind: Select
target: -
tables: -
writes: false
effects: None
sql: same

=== own client: snapshot status
SHOW STATUS LIKE 'binlog_snapshot_%'
--- expect
kind: Show
target: -
tables: -
writes: false
effects: None
sql: same

=== own client: foreign key checks off
SET SESSION foreign_key_checks = 0
--- expect
kind: Set
target: -
tables: -
writes: false
effects: CarriedSet
sql: same

=== own client: column types from information_schema
@session commerce
SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'vt_commerce' AND TABLE_NAME = 'customer' AND COLUMN_NAME = 'email'
--- expect
kind: Select
target: -
tables: -
writes: false
effects: None
sql: same

=== own client: replication status
SELECT @@global.gtid_binlog_pos, @@global.gtid_slave_pos, (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'SLAVES_RUNNING')
--- expect
kind: Select
target: -
tables: -
writes: false
effects: None
sql: same

=== own client: user variables for the binlog dump
SET @master_binlog_checksum = @@global.binlog_checksum, @master_heartbeat_period = 1000000000
--- expect
kind: Set
target: -
tables: -
writes: false
effects: UserVariable
sql: same

=== own client: session variables
SHOW SESSION VARIABLES LIKE 'sql_mode'
--- expect
kind: Show
target: -
tables: -
writes: false
effects: None
sql: same
