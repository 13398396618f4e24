# The demo's statements (infra/demo.d/walkthrough.sh): the application's writes and the checks it reads, through a
# session in the keyspace the walkthrough names.

=== application write
@session commerce
INSERT INTO corder (customer_id, sku, price) VALUES (1, 'SKU-APP', 1)
--- expect
kind: Insert
target: commerce
tables: commerce.corder
writes: true
effects: None
sql: same

=== application write, no database (the routing rule decides)
INSERT INTO corder (customer_id, sku, price) VALUES (1, 'SKU-APP', 1)
--- expect
kind: Insert
target: commerce
tables: commerce.corder
writes: true
effects: None
sql: same

=== early write to the target keyspace (routed back to commerce by the rule customer.customer)
@session customer
INSERT INTO customer (email) VALUES ('early@domain.com')
--- expect
kind: Insert
target: commerce
tables: commerce.customer
writes: true
effects: None
sql: same

=== write with an explicit id
@session customer
INSERT INTO customer (customer_id, email) VALUES (100, 'new@domain.com')
--- expect
kind: Insert
target: commerce
tables: commerce.customer
writes: true
effects: None
sql: same

=== reverse replication check
@session commerce
SELECT COUNT(*) FROM customer WHERE customer_id = 100
--- expect
kind: Select
target: commerce
tables: commerce.customer
writes: false
effects: None
sql: same

=== table still there
@session commerce
SELECT 1 FROM customer LIMIT 1
--- expect
kind: Select
target: commerce
tables: commerce.customer
writes: false
effects: None
sql: same

=== whole table
@session commerce
SELECT * FROM customer
--- expect
kind: Select
target: commerce
tables: commerce.customer
writes: false
effects: None
sql: same

=== checksum
@session commerce
CHECKSUM TABLE corder
--- expect
kind: Select
target: commerce
tables: commerce.corder
writes: false
effects: None
sql: same
