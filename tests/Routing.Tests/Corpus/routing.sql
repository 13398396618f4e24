# Routing as vtgate does for unsharded keyspaces, against the fixture's rules (commerce2customer mid-way: @replica and
# @rdonly switched to customer, primary traffic on commerce): qualified names, tablet types, rules, global routing,
# renamed tables, system schemas, and the rewriting of keyspace names to the tablets' databases.

=== qualified name is rewritten to the database
SELECT * FROM commerce.product WHERE sku = 'SKU-1001'
--- expect
kind: Select
target: commerce
tables: commerce.product
writes: false
effects: None
sql:
SELECT * FROM `vt_commerce`.product WHERE sku = 'SKU-1001'

=== qualified name in backticks, spacing kept
SELECT * FROM `commerce` . `product`   WHERE 1
--- expect
kind: Select
target: commerce
tables: commerce.product
writes: false
effects: None
sql:
SELECT * FROM `vt_commerce` . `product`   WHERE 1

=== qualified name routed by a rule to another keyspace
SELECT * FROM customer.customer WHERE customer_id = 1
--- expect
kind: Select
target: commerce
tables: commerce.customer
writes: false
effects: None
sql:
SELECT * FROM `vt_commerce`.customer WHERE customer_id = 1

=== qualified name with a tablet type
SELECT * FROM `commerce@replica`.customer
--- expect
kind: Select
target: customer@replica
tables: customer.customer
writes: false
effects: None
sql:
SELECT * FROM `vt_customer`.customer

=== qualified names on a replica target follow the @replica rules
@session commerce@replica
SELECT o.sku, c.email FROM commerce.corder o JOIN commerce.customer c USING (customer_id)
--- expect
kind: Select
target: customer@replica
tables: customer.corder, customer.customer
writes: false
effects: None
sql:
SELECT o.sku, c.email FROM `vt_customer`.corder o JOIN `vt_customer`.customer c USING (customer_id)

=== unqualified names on a replica target follow the @replica rules
@session commerce@replica
SELECT * FROM corder
--- expect
kind: Select
target: customer@replica
tables: customer.corder
writes: false
effects: None
sql: same

=== rdonly target
@session commerce@rdonly
SELECT COUNT(*) FROM customer
--- expect
kind: Select
target: customer@rdonly
tables: customer.customer
writes: false
effects: None
sql: same

=== primary target named explicitly
@session commerce@primary
SELECT * FROM customer
--- expect
kind: Select
target: commerce
tables: commerce.customer
writes: false
effects: None
sql: same

=== unqualified name in the target keyspace is routed back to the source by the rule
@session customer
SELECT * FROM corder
--- expect
kind: Select
target: commerce
tables: commerce.corder
writes: false
effects: None
sql: same

=== a table only in the VSchema of one keyspace, no database
SELECT * FROM product
--- expect
kind: Select
target: commerce
tables: commerce.product
writes: false
effects: None
sql: same

=== a table in no VSchema, in the session's keyspace
@session customer
SELECT * FROM anything_new
--- expect
kind: Select
target: customer
tables: customer.anything_new
writes: false
effects: None
sql: same

=== renamed table (rule old_product -> commerce.product)
@session commerce
SELECT sku FROM old_product WHERE price > 1
--- expect
kind: Select
target: commerce
tables: commerce.product
writes: false
effects: None
sql:
SELECT sku FROM `product` AS `old_product` WHERE price > 1

=== renamed table, qualified
SELECT sku FROM commerce.old_product
--- expect
kind: Select
target: commerce
tables: commerce.product
writes: false
effects: None
sql:
SELECT sku FROM `vt_commerce`.`product` AS `old_product`

=== schema-qualified columns are rewritten with their table
SELECT commerce.product.sku, commerce.product.* FROM commerce.product
--- expect
kind: Select
target: commerce
tables: commerce.product
writes: false
effects: None
sql:
SELECT `vt_commerce`.product.sku, `vt_commerce`.product.* FROM `vt_commerce`.product

=== information_schema is not routed, its text unchanged
SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'vt_commerce'
--- expect
kind: Select
target: -
tables: -
writes: false
effects: None
sql: same

=== information_schema in a keyspace statement runs with the keyspace
@session commerce
SELECT c.email FROM customer c WHERE EXISTS (SELECT 1 FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = 'customer')
--- expect
kind: Select
target: commerce
tables: commerce.customer
writes: false
effects: None
sql: same

=== mysql and performance_schema and sys are not routed
SELECT * FROM mysql.user JOIN performance_schema.threads JOIN sys.version
--- expect
kind: Select
target: -
tables: -
writes: false
effects: None
sql: same

=== database() on a replica target is the keyspace
@session customer@replica
SELECT DATABASE(), COUNT(*) FROM corder
--- expect
kind: Select
target: customer@replica
tables: customer.corder
writes: false
effects: None
sql:
SELECT 'customer', COUNT(*) FROM corder

=== dml through a qualified name routed to the source
INSERT INTO customer.corder (customer_id, sku, price) VALUES (1, 'SKU-1001', 100)
--- expect
kind: Insert
target: commerce
tables: commerce.corder
writes: true
effects: None
sql:
INSERT INTO `vt_commerce`.corder (customer_id, sku, price) VALUES (1, 'SKU-1001', 100)

=== use a keyspace named in backticks
USE `customer`
--- expect
kind: Use
target: -
tables: -
writes: false
effects: ChangesKeyspace
use: customer
sql:
USE `vt_customer`

=== keyspace-qualified show tables
@session commerce
SHOW TABLES FROM `customer` LIKE 'c%'
--- expect
kind: Show
target: customer
tables: -
writes: false
effects: None
sql:
SHOW TABLES FROM `vt_customer` LIKE 'c%'

=== show tables on a replica target
@session customer@replica
SHOW TABLES
--- expect
kind: Show
target: customer@replica
tables: -
writes: false
effects: None
sql: same

=== multi-statement text, all on one target
SELECT * FROM commerce.product; SELECT * FROM commerce.customer
--- expect
kind: Multi
target: commerce
tables: commerce.product, commerce.customer
writes: false
effects: None
parts: 2
sql:
SELECT * FROM `vt_commerce`.product; SELECT * FROM `vt_commerce`.customer

=== renamed table keeps its written name as an alias for qualified columns
@session commerce
SELECT old_product.sku FROM old_product JOIN corder ON corder.sku = old_product.sku
--- expect
kind: Select
target: commerce
tables: commerce.product, commerce.corder
writes: false
effects: None
sql:
SELECT old_product.sku FROM `product` AS `old_product` JOIN corder ON corder.sku = old_product.sku

=== renamed table with an alias of its own is only renamed
@session commerce
UPDATE old_product p SET p.price = 1
--- expect
kind: Update
target: commerce
tables: commerce.product
writes: true
effects: None
sql:
UPDATE `product` p SET p.price = 1

=== renamed table as the target of an insert is only renamed
@session commerce
INSERT INTO old_product (sku) VALUES ('x')
--- expect
kind: Insert
target: commerce
tables: commerce.product
writes: true
effects: None
sql:
INSERT INTO `product` (sku) VALUES ('x')

=== information_schema filtered by a keyspace runs in it, on its database (as vtgate does)
SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'customer' AND TABLE_NAME = 'corder'
--- expect
kind: Select
target: customer
tables: -
writes: false
effects: None
sql:
SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'vt_customer' AND TABLE_NAME = 'corder'

=== information_schema filtered by the session's database
@session commerce@replica
SELECT table_name FROM INFORMATION_SCHEMA.TABLES t WHERE t.table_schema = DATABASE() ORDER BY 1
--- expect
kind: Select
target: -
tables: -
writes: false
effects: None
sql:
SELECT table_name FROM INFORMATION_SCHEMA.TABLES t WHERE t.table_schema = 'vt_commerce' ORDER BY 1

=== information_schema filtered by a database name is left alone
SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'vt_commerce'
--- expect
kind: Select
target: -
tables: -
writes: false
effects: None
sql: same

=== a column named table_schema of a keyspace table is not rewritten
@session commerce
SELECT * FROM product WHERE table_schema = 'customer'
--- expect
kind: Select
target: commerce
tables: commerce.product
writes: false
effects: None
sql: same
