use fintecture_oauth::{Error, api};

pub struct Filter {
    pub status: String,
}

#[api]
pub trait Api {
    #[endpoint(get = "/a")]
    async fn call(&self, #[query] filter: &Filter) -> Result<(), Error>;
}

fn main() {}
