use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(get = "/a", max_body = "1MB")]
    async fn call(&self) -> Result<(), Error>;
}

fn main() {}
