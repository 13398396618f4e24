# The grammar: every construct the analyzer must see through (joins, subqueries, unions, derived tables, CTEs,
# aliases, locking reads, INTO @var, INSERT/REPLACE forms, multi-table UPDATE/DELETE, comments, literals and quoted
# names), transactions, SET, SHOW and DESCRIBE. The session is commerce unless said otherwise.

=== inner join with aliases
@session commerce
SELECT c.email, o.sku FROM customer AS c INNER JOIN corder o ON o.customer_id = c.customer_id WHERE o.price > 10
--- expect
kind: Select
target: commerce
tables: commerce.customer, commerce.corder
writes: false
effects: None
sql: same

=== every join kind
@session commerce
SELECT * FROM customer c LEFT JOIN corder o ON o.customer_id = c.customer_id LEFT OUTER JOIN product p USING (sku) RIGHT JOIN customer c2 ON c2.customer_id = c.customer_id CROSS JOIN product p2 NATURAL JOIN corder o2 STRAIGHT_JOIN product p3 ON p3.sku = o.sku
--- expect
kind: Select
target: commerce
tables: commerce.customer, commerce.corder, commerce.product
writes: false
effects: None
sql: same

=== comma join and parenthesized joins
@session commerce
SELECT * FROM (customer c, corder o) JOIN (product p JOIN product q ON q.sku = p.sku) ON p.sku = o.sku WHERE c.customer_id = o.customer_id
--- expect
kind: Select
target: commerce
tables: commerce.customer, commerce.corder, commerce.product
writes: false
effects: None
sql: same

=== join condition with LEFT() and a subquery
@session commerce
SELECT * FROM customer c JOIN corder o ON LEFT(o.sku, 3) = 'SKU' AND o.price IN (SELECT price FROM product) WHERE 1
--- expect
kind: Select
target: commerce
tables: commerce.customer, commerce.corder, commerce.product
writes: false
effects: None
sql: same

=== subquery in the select list
@session commerce
SELECT email, (SELECT COUNT(*) FROM corder o WHERE o.customer_id = c.customer_id) AS orders FROM customer c
--- expect
kind: Select
target: commerce
tables: commerce.corder, commerce.customer
writes: false
effects: None
sql: same

=== subquery in where with EXISTS and IN
@session commerce
SELECT sku FROM product WHERE EXISTS (SELECT 1 FROM corder WHERE corder.sku = product.sku) AND sku NOT IN (SELECT sku FROM corder WHERE price > 100)
--- expect
kind: Select
target: commerce
tables: commerce.product, commerce.corder
writes: false
effects: None
sql: same

=== derived table
@session commerce
SELECT t.n FROM (SELECT COUNT(*) AS n FROM corder GROUP BY customer_id HAVING n > 1) AS t ORDER BY t.n DESC LIMIT 5
--- expect
kind: Select
target: commerce
tables: commerce.corder
writes: false
effects: None
sql: same

=== union
@session commerce
SELECT email FROM customer UNION ALL SELECT sku FROM product UNION DISTINCT (SELECT sku FROM corder) ORDER BY 1
--- expect
kind: Select
target: commerce
tables: commerce.customer, commerce.product, commerce.corder
writes: false
effects: None
sql: same

=== common table expression (its name is not a table)
@session commerce
WITH big AS (SELECT customer_id FROM corder WHERE price > 50), few (id) AS (SELECT customer_id FROM customer LIMIT 3) SELECT * FROM big JOIN few ON few.id = big.customer_id
--- expect
kind: Select
target: commerce
tables: commerce.corder, commerce.customer
writes: false
effects: None
sql: same

=== recursive common table expression
WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 5) SELECT n FROM seq
--- expect
kind: Select
target: -
tables: -
writes: false
effects: None
sql: same

=== functions with FROM in their arguments are not table clauses
@session commerce
SELECT TRIM(LEADING 'x' FROM email), EXTRACT(YEAR FROM NOW()), SUBSTRING(email FROM 2) FROM customer
--- expect
kind: Select
target: commerce
tables: commerce.customer
writes: false
effects: None
sql: same

=== select for update
@session commerce
SELECT customer_id FROM customer WHERE customer_id = 1 FOR UPDATE
--- expect
kind: Select
target: commerce
tables: commerce.customer
writes: true
effects: None
sql: same

=== select lock in share mode
@session commerce
SELECT customer_id FROM customer WHERE customer_id = 1 LOCK IN SHARE MODE
--- expect
kind: Select
target: commerce
tables: commerce.customer
writes: false
effects: None
sql: same

=== select into a user variable
@session commerce
SELECT COUNT(*) INTO @n FROM corder
--- expect
kind: Select
target: commerce
tables: commerce.corder
writes: false
effects: UserVariable
sql: same

=== user variable assigned in an expression
@session commerce
SELECT @rank := @rank + 1 AS rank, email FROM customer
--- expect
kind: Select
target: commerce
tables: commerce.customer
writes: false
effects: UserVariable
sql: same

=== user variable read only
SELECT @n
--- expect
kind: Select
target: -
tables: -
writes: false
effects: None
sql: same

=== index hints and partition
@session commerce
SELECT * FROM corder PARTITION (p0) AS o USE INDEX (PRIMARY) IGNORE INDEX FOR ORDER BY (idx) WHERE o.order_id > 1
--- expect
kind: Select
target: commerce
tables: commerce.corder
writes: false
effects: None
sql: same

=== from dual
SELECT 1 + 1 FROM DUAL
--- expect
kind: Select
target: -
tables: -
writes: false
effects: None
sql: same

=== insert select
@session commerce
INSERT INTO corder (customer_id, sku, price) SELECT customer_id, 'SKU-1001', 100 FROM customer WHERE email LIKE '%@domain.com'
--- expect
kind: Insert
target: commerce
tables: commerce.corder, commerce.customer
writes: true
effects: None
sql: same

=== insert on duplicate key update
@session commerce
INSERT INTO product (sku, description, price) VALUES ('SKU-1001', 'Monitor', 100) ON DUPLICATE KEY UPDATE price = VALUES(price), description = (SELECT 'x' FROM DUAL)
--- expect
kind: Insert
target: commerce
tables: commerce.product
writes: true
effects: None
sql: same

=== insert set form
@session commerce
INSERT IGNORE product SET sku = 'SKU-2', price = 2
--- expect
kind: Insert
target: commerce
tables: commerce.product
writes: true
effects: None
sql: same

=== replace values
@session commerce
REPLACE INTO product (sku, price) VALUE ('SKU-3', 3)
--- expect
kind: Replace
target: commerce
tables: commerce.product
writes: true
effects: None
sql: same

=== multi-table update
@session commerce
UPDATE corder o JOIN customer c ON c.customer_id = o.customer_id SET o.price = o.price + 1, c.email = LOWER(c.email) WHERE c.customer_id = 1
--- expect
kind: Update
target: commerce
tables: commerce.corder, commerce.customer
writes: true
effects: None
sql: same

=== update with a subquery and order/limit
@session commerce
UPDATE LOW_PRIORITY product SET price = (SELECT MAX(price) FROM corder) WHERE sku = 'SKU-1001' ORDER BY sku LIMIT 1
--- expect
kind: Update
target: commerce
tables: commerce.product, commerce.corder
writes: true
effects: None
sql: same

=== multi-table delete (targets before FROM, aliases)
@session commerce
DELETE o FROM corder o JOIN customer c ON c.customer_id = o.customer_id WHERE c.email = 'eve@domain.com'
--- expect
kind: Delete
target: commerce
tables: commerce.corder, commerce.customer
writes: true
effects: None
sql: same

=== multi-table delete (FROM ... USING)
@session commerce
DELETE FROM o.* USING corder AS o LEFT JOIN customer AS c ON c.customer_id = o.customer_id WHERE c.customer_id IS NULL
--- expect
kind: Delete
target: commerce
tables: commerce.corder, commerce.customer
writes: true
effects: None
sql: same

=== delete with order and limit
@session commerce
DELETE QUICK FROM corder WHERE price = 0 ORDER BY order_id LIMIT 10
--- expect
kind: Delete
target: commerce
tables: commerce.corder
writes: true
effects: None
sql: same

=== comments are kept, not read
@session commerce
/* leading */ SELECT /*+ MAX_EXECUTION_TIME(1000) */ email -- the email
FROM customer # from customer
WHERE customer_id = 1 /* FROM corder */
--- expect
kind: Select
target: commerce
tables: commerce.customer
writes: false
effects: None
sql: same

=== executable comments are read
@session commerce
SELECT /*!50700 SQL_NO_CACHE */ email FROM /*! customer */ c /*M!100100 WHERE 1 */
--- expect
kind: Select
target: commerce
tables: commerce.customer
writes: false
effects: None
sql: same

=== executable comment hiding a table
@session commerce@replica
SELECT 1 FROM product /*!, corder */
--- error
code: 1235
state: 42000
message: a statement's tables must all resolve to one keyspace and tablet type, but product resolves to commerce@replica (as commerce.product); corder resolves to customer@replica (as customer.corder); run one statement per keyspace

=== literals that look like names are not tables
@session commerce
SELECT 'FROM customer', "FROM corder", _utf8mb4'a\'b', X'4142', 0x4142, b'0101', 1.5e-3, .5, N'x' FROM product WHERE sku = 'it''s'
--- expect
kind: Select
target: commerce
tables: commerce.product
writes: false
effects: None
sql: same

=== quoted names with escaped backticks
@session commerce
SELECT `weird``col` FROM `product` AS `p``q`
--- expect
kind: Select
target: commerce
tables: commerce.product
writes: false
effects: None
sql: same

=== placeholders
@session commerce
SELECT * FROM product WHERE sku = ? AND price BETWEEN ? AND ?
--- expect
kind: Select
target: commerce
tables: commerce.product
writes: false
effects: None
sql: same

=== advisory lock
SELECT GET_LOCK('job', 10)
--- expect
kind: Select
target: -
tables: -
writes: false
effects: AdvisoryLock
sql: same

=== advisory lock release
SELECT RELEASE_LOCK('job'), IS_FREE_LOCK('x'), IS_USED_LOCK('y'), RELEASE_ALL_LOCKS()
--- expect
kind: Select
target: -
tables: -
writes: false
effects: AdvisoryLock
sql: same

=== database() in a where clause
@session customer
SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()
--- expect
kind: Select
target: -
tables: -
writes: false
effects: None
sql:
SELECT table_name FROM information_schema.tables WHERE table_schema = 'vt_customer'

=== schema() function
@session commerce
SELECT SCHEMA()
--- expect
kind: Select
target: -
tables: -
writes: false
effects: None
sql:
SELECT 'commerce'

=== begin work
BEGIN WORK
--- expect
kind: Begin
target: -
tables: -
writes: false
effects: BeginsTransaction
sql: same

=== commit work
COMMIT WORK
--- expect
kind: Commit
target: -
tables: -
writes: false
effects: EndsTransaction
sql: same

=== rollback work
ROLLBACK WORK
--- expect
kind: Rollback
target: -
tables: -
writes: false
effects: EndsTransaction
sql: same

=== rollback to a savepoint without the keyword
ROLLBACK TO sp2
--- expect
kind: Savepoint
target: -
tables: -
writes: false
effects: None
sql: same

=== set a user variable from a subquery
@session commerce
SET @total = (SELECT SUM(price) FROM corder)
--- expect
kind: Set
target: commerce
tables: commerce.corder
writes: false
effects: UserVariable
sql: same

=== set session variables in every spelling
SET @@session.sql_mode = 'ANSI', @@sql_safe_updates = 0, LOCAL wait_timeout = 60, max_join_size = DEFAULT
--- expect
kind: Set
target: -
tables: -
writes: false
effects: CarriedSet
sql: same

=== set autocommit through a system variable
SET @@autocommit = OFF
--- expect
kind: Set
target: -
tables: -
writes: false
effects: AutocommitOff
sql: same

=== set character set
SET CHARACTER SET utf8mb4
--- expect
kind: Set
target: -
tables: -
writes: false
effects: CarriedSet
sql: same

=== set names with collation
SET NAMES 'utf8mb4' COLLATE 'utf8mb4_general_ci'
--- expect
kind: Set
target: -
tables: -
writes: false
effects: CarriedSet
sql: same

=== set transaction for the next transaction
SET TRANSACTION READ ONLY
--- expect
kind: Set
target: -
tables: -
writes: false
effects: CarriedSet
sql: same

=== show full tables in a keyspace
SHOW FULL TABLES FROM customer LIKE 'c%'
--- expect
kind: Show
target: customer
tables: -
writes: false
effects: None
sql:
SHOW FULL TABLES FROM `vt_customer` LIKE 'c%'

=== show table status
@session commerce
SHOW TABLE STATUS WHERE Name = 'customer'
--- expect
kind: Show
target: commerce
tables: -
writes: false
effects: None
sql: same

=== show create table
@session commerce
SHOW CREATE TABLE product
--- expect
kind: Show
target: commerce
tables: commerce.product
writes: false
effects: None
sql: same

=== show columns with the keyspace after the table
SHOW COLUMNS FROM product FROM commerce
--- expect
kind: Show
target: commerce
tables: commerce.product
writes: false
effects: None
sql:
SHOW COLUMNS FROM product FROM `vt_commerce`

=== show index
SHOW INDEX FROM commerce.product
--- expect
kind: Show
target: commerce
tables: commerce.product
writes: false
effects: None
sql:
SHOW INDEX FROM `vt_commerce`.product

=== show global status is read-only
SHOW GLOBAL STATUS LIKE 'Uptime'
--- expect
kind: Show
target: -
tables: -
writes: false
effects: None
sql: same

=== show engines, collation, character set, errors, count of warnings
SHOW ENGINES; SHOW COLLATION LIKE 'utf8mb4%'; SHOW CHARACTER SET; SHOW ERRORS; SHOW COUNT(*) WARNINGS
--- expect
kind: Multi
target: -
tables: -
writes: false
effects: None
parts: 5
sql: same

=== show schemas
SHOW SCHEMAS
--- expect
kind: Local
target: -
tables: -
writes: false
effects: None
local: ShowDatabases
sql: empty

=== describe a table
@session commerce
DESCRIBE customer
--- expect
kind: Describe
target: commerce
tables: commerce.customer
writes: false
effects: None
sql: same

=== desc a column
@session commerce
DESC customer email
--- expect
kind: Describe
target: commerce
tables: commerce.customer
writes: false
effects: None
sql: same

=== explain a select
@session commerce
EXPLAIN SELECT * FROM customer JOIN corder USING (customer_id)
--- expect
kind: Describe
target: commerce
tables: commerce.customer, commerce.corder
writes: false
effects: None
sql: same

=== explain an update is not a write
@session commerce@replica
EXPLAIN FORMAT=JSON UPDATE product SET price = 1
--- expect
kind: Describe
target: commerce@replica
tables: commerce.product
writes: false
effects: None
sql: same

=== lock tables read and write
@session commerce
LOCK TABLES product READ, corder AS o WRITE
--- expect
kind: LockTables
target: commerce
tables: commerce.product, commerce.corder
writes: true
effects: ImplicitCommit, LockTables
sql: same

=== lock tables read only
@session commerce@replica
LOCK TABLE product READ LOCAL
--- expect
kind: LockTables
target: commerce@replica
tables: commerce.product
writes: false
effects: ImplicitCommit, LockTables
sql: same

=== unlock tables
UNLOCK TABLES
--- expect
kind: UnlockTables
target: -
tables: -
writes: false
effects: UnlockTables
sql: same

=== multi-statement text with one target
@session commerce
BEGIN; UPDATE product SET price = 1 WHERE sku = 'SKU-1'; INSERT INTO corder (sku) VALUES ('SKU-1'); COMMIT;
--- expect
kind: Multi
target: commerce
tables: commerce.product, commerce.corder
writes: true
effects: BeginsTransaction, EndsTransaction
parts: 4
sql: same

=== autocommit set twice: the last assignment wins
SET autocommit = 0, sql_mode = '', SESSION autocommit = ON
--- expect
kind: Set
target: -
tables: -
writes: false
effects: CarriedSet, AutocommitOn
sql: same

=== sql_mode with ANSI_QUOTES is carried
SET SESSION sql_mode = 'ANSI_QUOTES'
--- expect
kind: Set
target: -
tables: -
writes: false
effects: CarriedSet
sql: same
