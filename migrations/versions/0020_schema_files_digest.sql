-- The digest of the schema files (migrations/schema/) as `migrate` last applied them: it applies
-- them again only when a version was applied or their text changed, so a deploy that changes
-- neither takes no lock on the tables their triggers sit on (as Flyway re-applies a repeatable
-- migration only when its checksum changes).
CREATE TABLE schema_files_applied (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    digest text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
