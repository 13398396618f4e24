-- The seeds' commerce schema (keyspace commerce, database vt_commerce), applied by cluster.sh up to the commerce primary.
CREATE TABLE IF NOT EXISTS product (
  sku VARBINARY(128),
  description VARBINARY(128),
  price BIGINT,
  PRIMARY KEY (sku)
) ENGINE=InnoDB;
CREATE TABLE IF NOT EXISTS customer (
  customer_id BIGINT NOT NULL AUTO_INCREMENT,
  email VARBINARY(128),
  PRIMARY KEY (customer_id)
) ENGINE=InnoDB;
CREATE TABLE IF NOT EXISTS corder (
  order_id BIGINT NOT NULL AUTO_INCREMENT,
  customer_id BIGINT,
  sku VARBINARY(128),
  price BIGINT,
  PRIMARY KEY (order_id)
) ENGINE=InnoDB;
