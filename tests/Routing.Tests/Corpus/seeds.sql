# The seeds' SQL (infra/local/sql/*.sql, the walkthrough's `mysql` lines): the seeds' `mysql` alias connects to vtgate
# with no database, so the tables are found by global routing and the routing rules; the same through a session in
# commerce, and after the switch of reads to customer (@replica).

=== create schema: product
@session commerce
CREATE TABLE IF NOT EXISTS product (
  sku VARBINARY(128),
  description VARBINARY(128),
  price BIGINT,
  PRIMARY KEY (sku)
) ENGINE=InnoDB;
--- expect
kind: Ddl
target: commerce
tables: commerce.product
writes: true
effects: ImplicitCommit
sql: same

=== create schema: customer
@session commerce
CREATE TABLE IF NOT EXISTS customer (
  customer_id BIGINT NOT NULL AUTO_INCREMENT,
  email VARBINARY(128),
  PRIMARY KEY (customer_id)
) ENGINE=InnoDB;
--- expect
kind: Ddl
target: commerce
tables: commerce.customer
writes: true
effects: ImplicitCommit
sql: same

=== insert data: customer, no database (global routing, rule 'customer')
INSERT INTO customer (email) VALUES ('alice@domain.com'), ('bob@domain.com'), ('charlie@domain.com'), ('dan@domain.com'), ('eve@domain.com');
--- expect
kind: Insert
target: commerce
tables: commerce.customer
writes: true
effects: None
sql: same

=== insert data: product, no database (global routing, VSchema)
INSERT INTO product (sku, description, price) VALUES ('SKU-1001', 'Monitor', 100), ('SKU-1002', 'Keyboard', 30);
--- expect
kind: Insert
target: commerce
tables: commerce.product
writes: true
effects: None
sql: same

=== insert data: corder, no database
INSERT INTO corder (customer_id, sku, price) VALUES (1, 'SKU-1001', 100), (2, 'SKU-1002', 30), (3, 'SKU-1002', 30), (4, 'SKU-1002', 30), (5, 'SKU-1002', 30);
--- expect
kind: Insert
target: commerce
tables: commerce.corder
writes: true
effects: None
sql: same

=== select data: empty column name
SELECT 'Customer' AS ``;
--- expect
kind: Select
target: -
tables: -
writes: false
effects: None
sql: same

=== select data: customer
SELECT customer_id, email FROM customer ORDER BY customer_id;
--- expect
kind: Select
target: commerce
tables: commerce.customer
writes: false
effects: None
sql: same

=== select data: product
SELECT sku, description, price FROM product ORDER BY sku;
--- expect
kind: Select
target: commerce
tables: commerce.product
writes: false
effects: None
sql: same

=== select data: corder
SELECT order_id, customer_id, sku, price FROM corder ORDER BY order_id;
--- expect
kind: Select
target: commerce
tables: commerce.corder
writes: false
effects: None
sql: same

=== select data: the whole file as one multi-statement text
SELECT 'Customer' AS ``;
SELECT customer_id, email FROM customer ORDER BY customer_id;
SELECT 'COrder' AS ``;
SELECT order_id, customer_id, sku, price FROM corder ORDER BY order_id;
--- expect
kind: Multi
target: commerce
tables: commerce.customer, commerce.corder
writes: false
effects: None
parts: 4
sql: same

=== select data through replicas after SwitchTraffic --tablet-types=rdonly,replica
@session commerce@replica
SELECT customer_id, email FROM customer ORDER BY customer_id;
--- expect
kind: Select
target: customer@replica
tables: customer.customer
writes: false
effects: None
sql: same

=== select data through replicas, the customer keyspace named
@session customer@replica
SELECT order_id, customer_id, sku, price FROM corder ORDER BY order_id;
--- expect
kind: Select
target: customer@replica
tables: customer.corder
writes: false
effects: None
sql: same

=== show vitess_tablets
show vitess_tablets
--- expect
kind: Local
target: -
tables: -
writes: false
effects: None
local: ShowVitessTablets
sql: empty

=== show vitess_keyspaces
SHOW VITESS_KEYSPACES
--- expect
kind: Local
target: -
tables: -
writes: false
effects: None
local: ShowVitessKeyspaces
sql: empty

=== show vitess_shards
show vitess_shards;
--- expect
kind: Local
target: -
tables: -
writes: false
effects: None
local: ShowVitessShards
sql: empty
