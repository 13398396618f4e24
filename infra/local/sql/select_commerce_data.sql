-- The seeds' select_commerce_data.sql: what the commerce keyspace holds.
SELECT 'Customer' AS ``;
SELECT customer_id, email FROM customer ORDER BY customer_id;
SELECT 'Product' AS ``;
SELECT sku, description, price FROM product ORDER BY sku;
SELECT 'COrder' AS ``;
SELECT order_id, customer_id, sku, price FROM corder ORDER BY order_id;
