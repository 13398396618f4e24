# DDL: to the keyspace's primary, with MySQL's implicit commit (except for temporary tables, which pin the session).

=== create table with a foreign key to a table of the same keyspace
@session commerce
CREATE TABLE corder_line (id BIGINT PRIMARY KEY, order_id BIGINT, CONSTRAINT fk_order FOREIGN KEY (order_id) REFERENCES corder (order_id) ON DELETE CASCADE) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
--- expect
kind: Ddl
target: commerce
tables: commerce.corder_line, commerce.corder
writes: true
effects: ImplicitCommit
sql: same

=== create table like, qualified
CREATE TABLE commerce.product_copy LIKE commerce.product
--- expect
kind: Ddl
target: commerce
tables: commerce.product_copy, commerce.product
writes: true
effects: ImplicitCommit
sql:
CREATE TABLE `vt_commerce`.product_copy LIKE `vt_commerce`.product

=== create or replace table as select
@session commerce
CREATE OR REPLACE TABLE product_summary AS SELECT sku, SUM(price) AS total FROM corder GROUP BY sku
--- expect
kind: Ddl
target: commerce
tables: commerce.product_summary, commerce.corder
writes: true
effects: ImplicitCommit
sql: same

=== create temporary table
@session commerce
CREATE TEMPORARY TABLE tmp_ids (id BIGINT PRIMARY KEY)
--- expect
kind: Ddl
target: commerce
tables: commerce.tmp_ids
writes: true
effects: TemporaryTable
sql: same

=== drop temporary table
@session commerce
DROP TEMPORARY TABLE IF EXISTS tmp_ids
--- expect
kind: Ddl
target: commerce
tables: commerce.tmp_ids
writes: true
effects: None
sql: same

=== alter table add column
@session commerce
ALTER TABLE product ADD COLUMN weight INT NULL AFTER price, ADD INDEX idx_price (price)
--- expect
kind: Ddl
target: commerce
tables: commerce.product
writes: true
effects: ImplicitCommit
sql: same

=== alter table rename column is not a table rename
@session commerce
ALTER TABLE product RENAME COLUMN weight TO mass
--- expect
kind: Ddl
target: commerce
tables: commerce.product
writes: true
effects: ImplicitCommit
sql: same

=== alter table rename to another name
ALTER TABLE commerce.product_copy RENAME TO commerce.product_old
--- expect
kind: Ddl
target: commerce
tables: commerce.product_copy, commerce.product_old
writes: true
effects: ImplicitCommit
sql:
ALTER TABLE `vt_commerce`.product_copy RENAME TO `vt_commerce`.product_old

=== drop several tables
@session commerce
DROP TABLE IF EXISTS product_copy, product_old RESTRICT
--- expect
kind: Ddl
target: commerce
tables: commerce.product_copy, commerce.product_old
writes: true
effects: ImplicitCommit
sql: same

=== truncate
@session commerce
TRUNCATE TABLE product_summary
--- expect
kind: Ddl
target: commerce
tables: commerce.product_summary
writes: true
effects: ImplicitCommit
sql: same

=== truncate without the keyword
TRUNCATE commerce.product_summary
--- expect
kind: Ddl
target: commerce
tables: commerce.product_summary
writes: true
effects: ImplicitCommit
sql:
TRUNCATE `vt_commerce`.product_summary

=== rename tables
@session commerce
RENAME TABLE product_summary TO product_totals, corder_line TO corder_lines
--- expect
kind: Ddl
target: commerce
tables: commerce.product_summary, commerce.product_totals, commerce.corder_line, commerce.corder_lines
writes: true
effects: ImplicitCommit
sql: same

=== create unique index
@session commerce
CREATE UNIQUE INDEX IF NOT EXISTS uq_email ON customer (email)
--- expect
kind: Ddl
target: commerce
tables: commerce.customer
writes: true
effects: ImplicitCommit
sql: same

=== drop index
@session commerce
DROP INDEX uq_email ON customer
--- expect
kind: Ddl
target: commerce
tables: commerce.customer
writes: true
effects: ImplicitCommit
sql: same

=== optimize table
@session commerce
OPTIMIZE TABLE corder
--- expect
kind: Ddl
target: commerce
tables: commerce.corder
writes: true
effects: ImplicitCommit
sql: same
