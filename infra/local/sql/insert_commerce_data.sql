-- The seeds' sample rows for the commerce keyspace (run against vt_commerce on the commerce primary).
INSERT INTO customer (email) VALUES ('alice@domain.com'), ('bob@domain.com'), ('charlie@domain.com'), ('dan@domain.com'), ('eve@domain.com');
INSERT INTO product (sku, description, price) VALUES ('SKU-1001', 'Monitor', 100), ('SKU-1002', 'Keyboard', 30);
INSERT INTO corder (customer_id, sku, price) VALUES (1, 'SKU-1001', 100), (2, 'SKU-1002', 30), (3, 'SKU-1002', 30), (4, 'SKU-1002', 30), (5, 'SKU-1002', 30);
