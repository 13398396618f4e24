# What the gateway refuses itself, sending nothing anywhere: each a MySQL error (code, SQLSTATE) whose message names
# the position, the tables, the keyspace or the statement, and what would be valid.

=== outside the grammar: a misspelled keyword, with its position
@session commerce
SELECT email FORM customer
--- error
code: 1064
state: 42000
message: You have an error in your SQL syntax near 'FORM customer' at line 1 column 14 (position 13): expected ',' or FROM between the select list's expressions; the statements the gateway routes are listed in docs/gateway-grammar.md

=== outside the grammar: unknown statement
@session commerce
FROBNICATE customer
--- error
code: 1064
state: 42000
message: You have an error in your SQL syntax near 'FROBNICATE customer' at line 1 column 1 (position 0): unknown statement; the statements the gateway routes are listed in docs/gateway-grammar.md

=== outside the grammar: position on a later line
@session commerce
SELECT *
FROM customer
WHERE (customer_id = 1
--- error
code: 1064
state: 42000
message: You have an error in your SQL syntax near '' at line 3 column 23 (position 45): expected ')' to close the '('; the statements the gateway routes are listed in docs/gateway-grammar.md

=== outside the grammar: unclosed string
SELECT 'abc
--- error
code: 1064
state: 42000
message: You have an error in your SQL syntax near ''abc' at line 1 column 8 (position 7): the string starting with ' is not closed; the statements the gateway routes are listed in docs/gateway-grammar.md

=== outside the grammar: unclosed comment
SELECT 1 /* never closed
--- error
code: 1064
state: 42000
message: You have an error in your SQL syntax near '/* never closed' at line 1 column 10 (position 9): the comment /* is not closed with */; the statements the gateway routes are listed in docs/gateway-grammar.md

=== outside the grammar: unclosed quoted name
SELECT * FROM `customer
--- error
code: 1064
state: 42000
message: You have an error in your SQL syntax near '`customer' at line 1 column 15 (position 14): the quoted identifier ` is not closed; the statements the gateway routes are listed in docs/gateway-grammar.md

=== outside the grammar: unclosed executable comment
SELECT 1 /*!50700 FROM customer
--- error
code: 1064
state: 42000
message: You have an error in your SQL syntax near '' at line 1 column 32 (position 31): an executable comment /*! is not closed with */; the statements the gateway routes are listed in docs/gateway-grammar.md

=== empty query
   -- nothing but a comment
--- error
code: 1065
state: 42000
message: Query was empty

=== cross-keyspace join names the tables and where they resolve
SELECT * FROM commerce.product p JOIN customer.anything_new a ON a.sku = p.sku
--- error
code: 1235
state: 42000
message: a statement's tables must all resolve to one keyspace and tablet type, but commerce.product resolves to commerce (as commerce.product); customer.anything_new resolves to customer (as customer.anything_new); run one statement per keyspace

=== cross-keyspace across a multi-statement text
@session commerce
SELECT * FROM product; SELECT * FROM customer.anything_new
--- error
code: 1235
state: 42000
message: a statement's tables must all resolve to one keyspace and tablet type, but product resolves to commerce (as commerce.product); customer.anything_new resolves to customer (as customer.anything_new); run one statement per keyspace

=== cross tablet type: the same keyspace read from two types
SELECT * FROM `commerce@replica`.product JOIN commerce.product USING (sku)
--- error
code: 1235
state: 42000
message: a statement's tables must all resolve to one keyspace and tablet type, but `commerce@replica`.product resolves to commerce@replica (as commerce.product); commerce.product resolves to commerce (as commerce.product); run one statement per keyspace

=== unknown keyspace in a qualified name
SELECT * FROM nosuch.t
--- error
code: 1049
state: 42000
message: Unknown database 'nosuch': the keyspaces are 'commerce', 'customer', 'customer_sharded' (optionally with @primary, @replica or @rdonly)

=== unknown keyspace in USE
USE nosuch
--- error
code: 1049
state: 42000
message: Unknown database 'nosuch': the keyspaces are 'commerce', 'customer', 'customer_sharded' (optionally with @primary, @replica or @rdonly)

=== unknown tablet type
USE `commerce@backup`
--- error
code: 1049
state: 42000
message: Unknown database 'commerce@backup': the tablet type after '@' must be primary, replica or rdonly

=== unknown session keyspace
@session gone
SELECT * FROM t
--- error
code: 1049
state: 42000
message: Unknown database 'gone': the keyspaces are 'commerce', 'customer', 'customer_sharded' (optionally with @primary, @replica or @rdonly)

=== a non-keyspace schema (the tablets' sidecar) is an unknown keyspace
DELETE c FROM _vt.copy_state c JOIN _vt.vreplication v ON v.id = c.vrepl_id WHERE v.workflow = 'x'
--- error
code: 1049
state: 42000
message: Unknown database '_vt': the keyspaces are 'commerce', 'customer', 'customer_sharded' (optionally with @primary, @replica or @rdonly)

=== dml on a replica target
@session commerce@replica
UPDATE product SET price = 1 WHERE sku = 'SKU-1001'
--- error
code: 1105
state: HY000
message: UPDATE statement with a replica target (commerce@replica): writes run on the primary; use 'commerce' or 'commerce@primary'

=== insert on an rdonly target
@session customer@rdonly
INSERT INTO anything_new VALUES (1)
--- error
code: 1105
state: HY000
message: INSERT statement with a rdonly target (customer@rdonly): writes run on the primary; use 'customer' or 'customer@primary'

=== ddl on a replica target
@session commerce@replica
CREATE TABLE x (id INT)
--- error
code: 1105
state: HY000
message: DDL statement with a replica target (commerce@replica): writes run on the primary; use 'commerce' or 'commerce@primary'

=== select for update on a replica target
@session commerce@replica
SELECT * FROM product FOR UPDATE
--- error
code: 1105
state: HY000
message: SELECT ... FOR UPDATE statement with a replica target (commerce@replica): writes run on the primary; use 'commerce' or 'commerce@primary'

=== lock tables write on a replica target
@session commerce@replica
LOCK TABLES product WRITE
--- error
code: 1105
state: HY000
message: LOCK TABLES ... WRITE statement with a replica target (commerce@replica): writes run on the primary; use 'commerce' or 'commerce@primary'

=== set global
SET GLOBAL read_only = ON
--- error
code: 1235
state: 42000
message: SET GLOBAL is not supported through the gateway: global variables belong to the tablets and are set on them, not through a client session; SET SESSION (or SET var) sets this session's

=== set @@global
SET @@global.max_connections = 10
--- error
code: 1235
state: 42000
message: SET GLOBAL is not supported through the gateway: global variables belong to the tablets and are set on them, not through a client session; SET SESSION (or SET var) sets this session's

=== set persist
SET PERSIST max_connections = 10
--- error
code: 1235
state: 42000
message: SET GLOBAL is not supported through the gateway: global variables belong to the tablets and are set on them, not through a client session; SET SESSION (or SET var) sets this session's

=== xa
XA START 'x'
--- error
code: 1235
state: 42000
message: XA is not supported through the gateway: distributed transactions would span the gateway's backend connections; use BEGIN/COMMIT on one keyspace

=== kill
KILL QUERY 12
--- error
code: 1235
state: 42000
message: KILL is not supported through the gateway: connection ids are the gateway's own, not the tablets'; close the connection instead

=== load data
LOAD DATA INFILE '/tmp/x' INTO TABLE product
--- error
code: 1235
state: 42000
message: LOAD is not supported through the gateway: the gateway routes queries, DML, table DDL, SET, USE, transactions, SHOW and DESCRIBE only (prepared statements through the binary protocol)

=== call
CALL proc()
--- error
code: 1235
state: 42000
message: CALL is not supported through the gateway: the gateway routes queries, DML, table DDL, SET, USE, transactions, SHOW and DESCRIBE only (prepared statements through the binary protocol)

=== create view
CREATE VIEW v AS SELECT 1
--- error
code: 1235
state: 42000
message: CREATE VIEW is not supported through the gateway: only CREATE [TEMPORARY] TABLE and CREATE INDEX are routed (views, routines, triggers and databases are made on the tablets)

=== drop database
DROP DATABASE commerce
--- error
code: 1235
state: 42000
message: DROP DATABASE is not supported through the gateway: only DROP [TEMPORARY] TABLE and DROP INDEX are routed

=== show processlist
SHOW PROCESSLIST
--- error
code: 1235
state: 42000
message: SHOW PROCESSLIST is not supported through the gateway: it would list one tablet's connections, not the gateway's sessions

=== show something unsupported
SHOW BINLOG EVENTS
--- error
code: 1235
state: 42000
message: SHOW BINLOG is not supported through the gateway: SHOW [FULL] TABLES, TABLE STATUS, CREATE TABLE, COLUMNS, INDEX, VARIABLES, STATUS, WARNINGS, ERRORS, DATABASES, ENGINES, COLLATION, CHARACTER SET and VITESS_TABLETS/KEYSPACES/SHARDS are

=== select into outfile
@session commerce
SELECT * FROM product INTO OUTFILE '/tmp/p'
--- error
code: 1235
state: 42000
message: SELECT ... INTO OUTFILE is not supported through the gateway: it writes a file on the tablet's host

=== no database selected: a table in no keyspace's VSchema
SELECT * FROM anything_new
--- error
code: 1046
state: 3D000
message: No database selected: table 'anything_new' is in no keyspace's VSchema and no rule routes it; USE a keyspace ('commerce', 'customer', 'customer_sharded') or qualify the table as <keyspace>.anything_new

=== no database selected: show tables
SHOW TABLES
--- error
code: 1046
state: 3D000
message: No database selected: SHOW TABLES needs a keyspace; USE one or name it with FROM <keyspace>

=== ambiguous table: in two keyspaces' VSchemas and no rule
SELECT * FROM shared_t
--- error
code: 1105
state: HY000
message: ambiguous table reference: shared_t is in the VSchema of keyspaces commerce, customer; qualify it as <keyspace>.shared_t or USE one of them

=== disabled table
@session commerce
SELECT * FROM retired
--- error
code: 1105
state: HY000
message: table retired has been disabled: routing rule 'commerce.retired' has no to_tables

=== autocommit from an expression
SET autocommit = @x
--- error
code: 1064
state: 42000
message: You have an error in your SQL syntax near '@x' at line 1 column 18 (position 17): autocommit must be set to 0, 1, ON or OFF (the gateway has to know which); the statements the gateway routes are listed in docs/gateway-grammar.md

=== use inside a multi-statement text
USE customer; SELECT * FROM corder
--- error
code: 1235
state: 42000
message: USE inside a multi-statement text is not supported through the gateway: the statements after it would be routed against the old keyspace; send USE on its own

=== writes to a system schema
UPDATE mysql.user SET x = 1
--- error
code: 1235
state: 42000
message: writing mysql.user is not supported through the gateway: the system schemas belong to each tablet

=== join outside from
@session commerce
SELECT 1 JOIN customer
--- error
code: 1064
state: 42000
message: You have an error in your SQL syntax near 'JOIN customer' at line 1 column 10 (position 9): JOIN outside a FROM clause; the statements the gateway routes are listed in docs/gateway-grammar.md

=== table function
SELECT * FROM JSON_TABLE('[]', '$[*]' COLUMNS (a INT PATH '$')) AS j
--- error
code: 1235
state: 42000
message: the table function JSON_TABLE is not supported through the gateway: only tables, derived tables and joins are routed in FROM

=== outside the grammar: a misspelled FROM after a star
@session commerce
SELECT * FORM customer WHERE 1
--- error
code: 1064
state: 42000
message: You have an error in your SQL syntax near 'FORM customer WHERE 1' at line 1 column 10 (position 9): expected ',' or FROM between the select list's expressions; the statements the gateway routes are listed in docs/gateway-grammar.md

=== sql_mode with NO_BACKSLASH_ESCAPES
SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')
--- error
code: 1235
state: 42000
message: sql_mode NO_BACKSLASH_ESCAPES is not supported through the gateway: the gateway reads statements as the default sql_mode does, where a backslash in a string escapes the next character

=== ansi quotes: a double-quoted table name is refused, never misread
@session commerce
SELECT * FROM "customer"
--- error
code: 1064
state: 42000
message: You have an error in your SQL syntax near '"customer"' at line 1 column 15 (position 14): expected a table name; the statements the gateway routes are listed in docs/gateway-grammar.md
