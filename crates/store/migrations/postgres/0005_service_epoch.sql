-- The fencing token of the service's claim (see the store's claim module): bumped by each
-- service that claims the store, and checked by every commit of the service holding it,
-- so that a service which has lost its claim cannot commit after another has taken over.
CREATE TABLE service_epoch (
    id     BIGINT PRIMARY KEY NOT NULL,
    epoch  BIGINT NOT NULL
);
INSERT INTO service_epoch (id, epoch) VALUES (1, 0);
